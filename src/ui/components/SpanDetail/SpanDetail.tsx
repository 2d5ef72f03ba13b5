// The selected span, facet by facet: summary and status, attributes, events, links, resource and
// scope — and, for a span a merge moved here, the trace it was sent under.
import type { SpanView } from "../../trace/trace-model.ts";
import { formatDurationUs, formatTimestampUs, SPAN_KINDS, STATUS_CODES } from "../../trace/format.ts";
import { selectSpan } from "../../trace/trace-controller.ts";
import { onLinkClick, traceUrl } from "../../navigation.ts";
import { Attributes } from "./Attributes.tsx";
import { Events } from "./Events.tsx";
import { Links } from "./Links.tsx";

export function SpanDetail({ span, traceStartUs }: { span: SpanView; traceStartUs: number }) {
	return (
		<aside class="span-detail" data-span-detail={span.spanId}>
			<header>
				<h2>{span.name || "(unnamed span)"}</h2>
				<button type="button" class="link-button" onClick={() => selectSpan(undefined)} aria-label="Close the span detail">
					×
				</button>
			</header>
			<dl class="summary">
				<dt>Service</dt>
				<dd>{span.service}</dd>
				<dt>Span id</dt>
				<dd class="mono">{span.spanId}</dd>
				<dt>Parent</dt>
				<dd class="mono">{span.parentSpanId || "— (root)"}</dd>
				<dt>Kind</dt>
				<dd>{SPAN_KINDS[span.kind] ?? span.kind}</dd>
				<dt>Start</dt>
				<dd>
					{formatTimestampUs(span.startUs)} (+{formatDurationUs(span.startUs - traceStartUs)})
				</dd>
				<dt>Duration</dt>
				<dd>{formatDurationUs(span.endUs - span.startUs)}</dd>
				<dt>Status</dt>
				<dd class={span.statusCode === 2 ? "error" : ""} data-span-status={STATUS_CODES[span.statusCode] ?? span.statusCode}>
					{STATUS_CODES[span.statusCode] ?? span.statusCode}
					{span.statusMessage && `: ${span.statusMessage}`}
				</dd>
				{span.originalTraceId && (
					<>
						<dt>Merged from</dt>
						<dd class="mono" data-original-trace-id={span.originalTraceId}>
							<a href={traceUrl(span.originalTraceId)} onClick={(e) => onLinkClick(e, traceUrl(span.originalTraceId!))}>
								{span.originalTraceId}
							</a>{" "}
							(assembler.original_trace_id)
						</dd>
					</>
				)}
			</dl>
			<Attributes title="Attributes" attributes={span.attributes} />
			<Events events={span.events} spanStartUs={span.startUs} />
			<Links links={span.links} />
			<Attributes title="Resource" attributes={span.resourceAttributes} />
			<Attributes
				title={`Scope ${span.scope.name}${span.scope.version ? ` ${span.scope.version}` : ""}`}
				attributes={span.scope.attributes}
				empty={span.scope.name ? "no scope attributes" : "no instrumentation scope"}
			/>
		</aside>
	);
}
