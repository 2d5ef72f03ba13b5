// A metrics query over one partition's rows: rows the SQL prefilter lets through in the frame,
// each answered from its rollup when the query allows it (rollup.ts) and from its decoded entry
// otherwise; the result is a partial to merge with other partitions'.
import type { TraceEntry } from "../../search/entry";
import { compileQuery } from "../match";
import { parseQuery } from "../parse";
import type { PartialResult } from "./accumulate";
import { topValues } from "./finish";
import { seriesKey } from "./labels";
import { metricsContext, newSeriesSet, observeEntry } from "./observe";
import type { TimeFrame } from "./plan";
import { observeRollup, rollupPlan } from "./rollup";

export interface PartitionMetrics {
	query: string;
	frame: TimeFrame;
}

export interface MetricsRow {
	trace_id: string;
	state: number;
	roll_roots?: string | null;
	roll_spans?: string | null;
	entry?: ArrayBuffer | Uint8Array;
}

/** Reads rows: `columns` of the rows in [fromMs, toMs] that pass `where`; returns them and the rows read. */
export type RowReader = (columns: string, where: { sql: string; params: (string | number)[] }, fromMs: number, toMs: number) => { rows: Iterable<MetricsRow>; rowsRead: () => number };

const OPEN = 0;

export function evaluatePartition(request: PartitionMetrics, read: RowReader, decode: (bytes: ArrayBuffer | Uint8Array) => TraceEntry): PartialResult {
	const query = parseQuery(request.query);
	if (!query.metrics) throw new Error("not a metrics query");
	const { frame } = request;
	const compiled = compileQuery(query);
	const context = metricsContext(query, frame, compiled);
	const set = newSeriesSet(context);
	const fromMs = frame.startMs;
	const toMs = frame.startMs + frame.intervals * frame.stepMs;
	const plan = rollupPlan(query, frame);
	const labels = context.labels;
	// A row from before the rollup columns has none: it is answered from its entry.
	const oldRowEntry = "CASE WHEN roll_roots IS NULL THEN entry END AS entry";
	const columns = plan ? (plan.rootsOnly ? `trace_id, state, roll_roots, ${oldRowEntry}` : `trace_id, state, roll_roots, roll_spans, ${oldRowEntry}`) : "trace_id, state, entry";
	const { rows, rowsRead } = read(columns, compiled.prefilter, fromMs, toMs);
	for (const row of rows) {
		if (row.state === OPEN) set.result.openTraces++;
		if (plan && typeof row.roll_roots === "string" && (plan.rootsOnly || typeof row.roll_spans === "string")) {
			set.result.rollupRows++;
			set.result.inspectedTraces++;
			const roots = observeRollup(plan, query, frame, set, row.trace_id, row.roll_roots, true, labels);
			set.result.inspectedSpans += roots.spans;
			if (roots.dropped > 0) set.result.truncatedTraces++;
			if (!plan.rootsOnly) set.result.inspectedSpans += observeRollup(plan, query, frame, set, row.trace_id, row.roll_spans!, false, labels).spans;
			continue;
		}
		const entry = row.entry ? decode(row.entry) : undefined;
		if (!entry) continue;
		if ((entry.dropped?.spans ?? 0) > 0) set.result.truncatedTraces++;
		observeEntry(context, set, entry);
	}
	set.result.rowsRead = rowsRead();
	if (query.metrics.compare) {
		// Only the most frequent values can make the router's top N: send ten times as many per
		// attribute (exact within one partition; across partitions a value outside every
		// partition's list would be missed).
		const kept = topValues(Object.values(set.result.series), Math.max(100, query.metrics.compare.topN * 10));
		set.result.series = Object.fromEntries(kept.map((s) => [seriesKey(s.labels), s]));
	}
	return set.result;
}
