// The trace's spans on one time axis: nesting, a colour per service, errors marked, collapsible
// subtrees, and the keyboard (↑/↓ move, ←/→ collapse/expand or go to parent/child, Enter or Space
// toggles the subtree, Home/End, Esc closes the detail). Rows are virtualized (VirtualList).
import { useMemo } from "preact/hooks";
import type { TraceState } from "../state/store.ts";
import { selectSpan, setCollapsed, toggleCollapsed } from "../trace/trace-controller.ts";
import { SpanBarRow } from "./SpanBarRow.tsx";
import { TimelineHeader } from "./TimelineHeader.tsx";
import { VirtualList } from "./VirtualList.tsx";

export const ROW_HEIGHT_PX = 24;

export function Waterfall({ trace }: { trace: TraceState }) {
	const { model, collapsed, selectedSpanId } = trace;
	// The model memoizes its rows on (version, collapsed); this re-reads them only when those move.
	const rows = useMemo(() => model.rows(collapsed), [model, model.version, collapsed]);
	const selectedIndex = selectedSpanId ? rows.findIndex((r) => r.span.spanId === selectedSpanId) : -1;
	const startUs = model.startUs;
	const durationUs = Math.max(1, model.endUs - model.startUs);

	const onKeyDown = (e: KeyboardEvent) => {
		if (rows.length === 0) return;
		const current = rows[selectedIndex];
		const go = (index: number) => {
			const row = rows[Math.max(0, Math.min(rows.length - 1, index))];
			if (row) selectSpan(row.span.spanId);
		};
		switch (e.key) {
			case "ArrowDown":
				go(selectedIndex + 1);
				break;
			case "ArrowUp":
				go(selectedIndex < 0 ? 0 : selectedIndex - 1);
				break;
			case "Home":
				go(0);
				break;
			case "End":
				go(rows.length - 1);
				break;
			case "ArrowLeft":
				if (!current) return;
				if (current.childCount > 0 && !collapsed.has(current.span.spanId)) setCollapsed(current.span.spanId, true);
				else if (current.depth > 0) selectSpan(current.span.parentSpanId);
				break;
			case "ArrowRight":
				if (!current) return;
				if (collapsed.has(current.span.spanId)) setCollapsed(current.span.spanId, false);
				else if (current.childCount > 0) go(selectedIndex + 1);
				break;
			case "Enter":
			case " ":
				if (current && current.childCount > 0) toggleCollapsed(current.span.spanId);
				break;
			case "Escape":
				selectSpan(undefined);
				break;
			default:
				return;
		}
		e.preventDefault();
	};

	return (
		<section class="waterfall" data-waterfall aria-label="Spans on a time axis">
			<TimelineHeader durationUs={durationUs} />
			{rows.length === 0 ? (
				<p class="hint">{trace.loaded ? "No spans yet: they appear here as exporters send them." : "Loading…"}</p>
			) : (
				<VirtualList
					count={rows.length}
					rowHeight={ROW_HEIGHT_PX}
					scrollToIndex={selectedIndex}
					onKeyDown={onKeyDown}
					renderRow={(index, top) => {
						const row = rows[index]!;
						return (
							<SpanBarRow
								key={row.span.spanId}
								row={row}
								top={top}
								height={ROW_HEIGHT_PX}
								traceStartUs={startUs}
								traceDurationUs={durationUs}
								selected={row.span.spanId === selectedSpanId}
								collapsed={collapsed.has(row.span.spanId)}
							/>
						);
					}}
				/>
			)}
		</section>
	);
}
