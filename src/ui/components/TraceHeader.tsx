// What is known about the trace as a whole: its status (waiting / partial / complete), span count,
// services, duration, and everything the read API's headers say — traces merged in and by which
// rule, refused merges, dropped spans, the tail-sampling decision — plus where a merged child's id led.
import { onLinkClick, traceUrl } from "../navigation.ts";
import type { TraceState } from "../state/store.ts";
import { formatDurationUs, formatTimestampUs } from "../trace/format.ts";
import { serviceColor } from "../trace/service-colors.ts";

const STATUS_TEXT = { waiting: "waiting for spans", partial: "partial — assembling", complete: "complete" };
const CONNECTION_TEXT = { connecting: "connecting…", live: "live", reconnecting: "reconnecting…", closed: "not live" };

export function TraceHeader({ trace }: { trace: TraceState }) {
	const model = trace.model;
	return (
		<section class="trace-header">
			<div class="title-row">
				<h1 class="mono" data-trace-header-id>
					{trace.traceId}
				</h1>
				<span class={`status status-${trace.status}`} data-trace-status={trace.status}>
					{STATUS_TEXT[trace.status]}
				</span>
				<span class={`connection connection-${trace.connection}`} data-connection={trace.connection} title="The live WebSocket">
					{CONNECTION_TEXT[trace.connection]}
				</span>
			</div>
			{trace.mergedFrom && (
				<p class="note" data-merged-from={trace.mergedFrom}>
					Trace <span class="mono">{trace.mergedFrom}</span> was merged into this one; it is shown here with everything it joined.
				</p>
			)}
			{trace.error && <p class="error" data-trace-error>{trace.error}</p>}
			<dl class="facts">
				<Fact label="Spans" value={<span data-span-count={model.size}>{model.size}</span>} />
				<Fact label="Errors" value={model.errorCount > 0 ? <span class="error-mark">{model.errorCount}</span> : "0"} />
				<Fact label="Duration" value={model.size ? formatDurationUs(model.endUs - model.startUs) : "—"} />
				<Fact label="Start" value={formatTimestampUs(model.startUs)} />
				<Fact
					label="Services"
					value={
						<span class="services">
							{model.services.map((s) => (
								<span class="service">
									<span class="service-chip" style={{ background: serviceColor(s) }} />
									{s}
								</span>
							))}
						</span>
					}
				/>
				{trace.merged.length > 0 && (
					<Fact
						label="Merged in"
						value={
							<ul class="notes" data-merged-traces>
								{trace.merged.map((m) => (
									<li data-merged-trace={m.traceId}>
										<a class="mono" href={traceUrl(m.traceId)} onClick={(e) => onLinkClick(e, traceUrl(m.traceId))}>
											{m.traceId}
										</a>{" "}
										by <strong>{m.detail}</strong>
									</li>
								))}
							</ul>
						}
					/>
				)}
				{trace.refused.length > 0 && (
					<Fact
						label="Refused merges"
						value={
							<ul class="notes" data-refused-merges>
								{trace.refused.map((m) => (
									<li>
										into <span class="mono">{m.traceId}</span>: {m.detail}
									</li>
								))}
							</ul>
						}
					/>
				)}
				{trace.sampling && (
					<Fact
						label="Sampling"
						value={
							<span data-sampling-decision={trace.sampling.kept ? "kept" : "dropped"} data-sampling-rule={trace.sampling.rule} data-sample-rate={trace.sampling.rate} title="Tail sampling at finalization (SAMPLING_RULES)">
								{trace.sampling.kept ? "kept" : "dropped"} by rule <strong>{trace.sampling.rule}</strong>
								{trace.sampling.kept && trace.sampling.rate > 1 ? `, 1 in ${trace.sampling.rate}` : ""}
							</span>
						}
					/>
				)}
				{trace.droppedSpans > 0 && <Fact label="Truncated" value={<span class="error-mark" data-dropped-spans={trace.droppedSpans}>{trace.droppedSpans} spans dropped by the per-trace limits</span>} />}
			</dl>
		</section>
	);
}

function Fact({ label, value }: { label: string; value: preact.ComponentChildren }) {
	return (
		<div class="fact">
			<dt>{label}</dt>
			<dd>{value}</dd>
		</div>
	);
}
