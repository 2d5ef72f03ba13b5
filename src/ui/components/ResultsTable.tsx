// The search's results, newest first: one row per trace, open traces marked (and refreshed by the
// search controller while they assemble). A click opens the trace.
import { navigate, onLinkClick, traceUrl } from "../navigation.ts";
import type { SearchTrace } from "../api/tempo.ts";
import { useViewerState, type ResultStatus } from "../state/store.ts";
import { formatDurationUs, formatTimestampUs } from "../trace/format.ts";
import { micros } from "../trace/trace-model.ts";
import { serviceColor } from "../trace/service-colors.ts";

export function ResultsTable() {
	const search = useViewerState((s) => s.search);
	if (!search.ran) return <p class="hint">Choose a time range and filters, or write TraceQL, then Search. <code>{"{}"}</code> lists every trace.</p>;
	if (search.error) return <p class="error" data-search-error>{search.error}</p>;
	if (search.loading) return <p class="hint">Searching…</p>;
	if (search.results.length === 0) return <p class="hint" data-search-empty>No traces match in this time range.</p>;
	return (
		<table class="results" data-search-results>
			<thead>
				<tr>
					<th>Trace</th>
					<th>Root service</th>
					<th>Root span</th>
					<th>Start</th>
					<th class="num">Duration</th>
					<th class="num">Spans</th>
					<th class="num">Errors</th>
					<th>State</th>
				</tr>
			</thead>
			<tbody>
				{search.results.map((trace) => (
					<ResultRow trace={trace} status={search.statuses[trace.traceID] ?? "unknown"} />
				))}
			</tbody>
		</table>
	);
}

function ResultRow({ trace, status }: { trace: SearchTrace; status: ResultStatus }) {
	const stats = Object.values(trace.serviceStats ?? {});
	const spans = stats.reduce((n, s) => n + (s.spanCount ?? 0), 0);
	const errors = stats.reduce((n, s) => n + (s.errorCount ?? 0), 0);
	// Tempo's API may print ids without leading zeros; the viewer always shows and links all 32 digits.
	const traceId = trace.traceID.padStart(32, "0");
	const url = traceUrl(traceId);
	return (
		<tr data-trace-id={traceId} class={errors > 0 ? "has-error" : ""} onClick={() => navigate(url)}>
			<td class="mono">
				<a href={url} onClick={(e) => (e.stopPropagation(), onLinkClick(e, url))}>
					{traceId.slice(0, 16)}
				</a>
			</td>
			<td>
				<span class="service-chip" style={{ background: serviceColor(trace.rootServiceName ?? "") }} />
				{trace.rootServiceName}
			</td>
			<td>{trace.rootTraceName}</td>
			<td>{formatTimestampUs(micros(trace.startTimeUnixNano))}</td>
			<td class="num">{formatDurationUs((trace.durationMs ?? 0) * 1000)}</td>
			<td class="num">{spans}</td>
			<td class="num">{errors > 0 ? <span class="error-mark">{errors}</span> : 0}</td>
			<td>
				<span class={`state state-${status}`} data-result-status={status}>
					{status === "partial" ? "open" : status === "complete" ? "complete" : "—"}
				</span>
			</td>
		</tr>
	);
}
