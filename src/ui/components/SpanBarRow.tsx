// One span: the name column (indent by depth, a toggle for its subtree, service colour, name) and
// its bar on the trace's time axis. Hooks for tests: data-span-id and data-depth.
import { Component } from "preact";
import type { SpanRow } from "../trace/trace-model.ts";
import { formatDurationUs } from "../trace/format.ts";
import { serviceColor } from "../trace/service-colors.ts";
import { selectSpan, toggleCollapsed } from "../trace/trace-controller.ts";

const INDENT_PX = 14;
/** A bar never gets thinner than this, so an instant span is still a mark on the axis. */
const MIN_BAR_PERCENT = 0.15;

export interface SpanBarRowProps {
	row: SpanRow;
	top: number;
	height: number;
	traceStartUs: number;
	traceDurationUs: number;
	selected: boolean;
	collapsed: boolean;
}

/** Re-rendered only when its own props change: scrolling mounts the rows coming into view and leaves the rest alone. */
export class SpanBarRow extends Component<SpanBarRowProps> {
	override shouldComponentUpdate(next: SpanBarRowProps): boolean {
		const p = this.props;
		return (
			p.row !== next.row || p.top !== next.top || p.selected !== next.selected || p.collapsed !== next.collapsed || p.traceStartUs !== next.traceStartUs || p.traceDurationUs !== next.traceDurationUs
		);
	}

	override render(props: SpanBarRowProps) {
		return <SpanBarRowView {...props} />;
	}
}

function SpanBarRowView({ row, top, height, traceStartUs, traceDurationUs, selected, collapsed }: SpanBarRowProps) {
	const { span, depth, childCount, orphan } = row;
	const color = serviceColor(span.service);
	const left = ((span.startUs - traceStartUs) / traceDurationUs) * 100;
	const width = Math.max(MIN_BAR_PERCENT, ((span.endUs - span.startUs) / traceDurationUs) * 100);
	const error = span.statusCode === 2;
	return (
		<div
			class={`span-row${selected ? " selected" : ""}${error ? " has-error" : ""}`}
			style={{ transform: `translateY(${top}px)`, height: `${height}px` }}
			data-span-id={span.spanId}
			data-depth={depth}
			aria-selected={selected}
			onClick={() => selectSpan(selected ? undefined : span.spanId)}
		>
			<div class="name-column" style={{ paddingLeft: `${depth * INDENT_PX + 4}px` }} title={`${span.service} · ${span.name}`}>
				{childCount > 0 ? (
					<button
						type="button"
						class="toggle"
						data-toggle
						aria-label={collapsed ? `expand ${childCount} children` : "collapse"}
						onClick={(e) => {
							e.stopPropagation();
							toggleCollapsed(span.spanId);
						}}
					>
						{collapsed ? "▸" : "▾"}
					</button>
				) : (
					<span class="toggle-space" />
				)}
				<span class="service-chip" style={{ background: color }} />
				<span class="service-name">{span.service}</span>
				<span class="span-name">{span.name}</span>
				{error && <span class="error-mark" title="status ERROR">!</span>}
				{orphan && (
					<span class="orphan-mark" title={`parent ${span.parentSpanId} has not arrived`}>
						↰
					</span>
				)}
				{span.originalTraceId && <span class="merged-mark" title={`merged from trace ${span.originalTraceId}`}>⇲</span>}
			</div>
			<div class="time-column">
				<div class="span-bar" style={{ left: `${left}%`, width: `${width}%`, background: color }} />
				<span class="span-duration" style={left > 70 ? { right: `${100 - left + 0.5}%` } : { left: `${left + width + 0.5}%` }}>
					{formatDurationUs(span.endUs - span.startUs)}
				</span>
			</div>
		</div>
	);
}
