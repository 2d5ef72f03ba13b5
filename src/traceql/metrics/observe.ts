// Counting one index entry into a metrics query: every span in the query's spanset, in the
// interval of its start time, under the labels of its by() values (or the function's name).
// This is the exact path; the rollup path (rollup.ts) answers the Drilldown's first page faster.
import type { TraceEntry } from "../../search/entry";
import type { Field, MetricsStage, Query } from "../ast";
import { testOf, type SpanTest } from "../conditions";
import type { CompiledQuery } from "../match";
import { RegexBudget } from "../regex";
import { numericOf, valueOf, valuesOf, type TypedValue } from "../values";
import type { Needs } from "./accumulate";
import { LabelCache } from "./labels";
import { SeriesSet } from "./accumulate";
import { dbl, labelKey, labelValue, str, type Label } from "./labels";
import { intervalOf, type TimeFrame } from "./plan";

export interface MetricsContext {
	query: Query;
	metrics: MetricsStage;
	frame: TimeFrame;
	compiled: CompiledQuery;
	/** compare(): whether a span is in the selection (its filter; the time window is checked apart). */
	selection?: SpanTest;
	/** Each label set built once per evaluation (see LabelCache). */
	labels: LabelCache;
}

/** Series an answer may hold: beyond it the answer is marked partial. */
export const MAX_SERIES = 5_000;
/**
 * compare() counts every value of every attribute (ids included) before keeping the top N per
 * attribute, so a partition may hold many more series while it counts; it prunes before answering.
 */
export const MAX_COMPARE_SERIES = 200_000;

export function seriesCap(metrics: MetricsStage): number {
	return metrics.fn === "compare" ? MAX_COMPARE_SERIES : MAX_SERIES;
}

export function needsOf(metrics: MetricsStage): Needs {
	return {
		sum: metrics.fn === "sum_over_time" || metrics.fn === "avg_over_time",
		min: metrics.fn === "min_over_time",
		max: metrics.fn === "max_over_time",
		buckets: metrics.fn === "quantile_over_time",
	};
}

export function metricsContext(query: Query, frame: TimeFrame, compiled: CompiledQuery): MetricsContext {
	const metrics = query.metrics!;
	const context: MetricsContext = { query, metrics, frame, compiled, labels: new LabelCache() };
	if (metrics.compare) context.selection = testOf(metrics.compare.selection, new RegexBudget());
	return context;
}

export function newSeriesSet(context: MetricsContext): SeriesSet {
	return new SeriesSet(context.frame, needsOf(context.metrics), seriesCap(context.metrics));
}

/** Whether the value is a duration (reported in seconds) for the function's field. */
export function isDurationField(field: Field | undefined): boolean {
	return field?.kind === "intrinsic" && (field.name === "duration" || field.name === "traceDuration");
}

/** The labels of a span's by() values; Tempo's rules for nil (a nil value drops its label; all nil → first key = "nil"). */
export function byLabels(by: readonly Field[], values: readonly (TypedValue | undefined)[]): Label[] {
	const labels: Label[] = [];
	by.forEach((field, i) => {
		const value = values[i];
		if (value) labels.push({ key: labelKey(field), value: labelValue(value) });
	});
	if (labels.length === 0 && by.length > 0) return [str(labelKey(by[0]!), "nil")];
	return labels;
}

export function observeEntry(context: MetricsContext, set: SeriesSet, entry: TraceEntry): void {
	const { metrics, frame } = context;
	const spans = context.compiled.spanset(entry);
	set.result.inspectedTraces++;
	set.result.inspectedSpans += entry.spans.length;
	const duration = isDurationField(metrics.field);
	for (let i = 0; i < spans.length; i++) {
		if (!spans[i]) continue;
		const span = entry.spans[i]!;
		const startMs = Number(span[2]) / 1e6;
		const interval = intervalOf(frame, startMs);
		if (interval < 0) continue;
		if (metrics.fn === "compare") {
			observeCompare(context, set, entry, i, interval, startMs);
			continue;
		}
		const values = metrics.by.map((f) => valueOf(entry, i, f));
		const byKey = values.map((v) => (v ? `${v.type}:${String(v.value)}` : "\u0003")).join("\u0000");
		const cache = context.labels;
		switch (metrics.fn) {
			case "rate":
			case "count_over_time":
				set.observe(cache.get(byKey, () => (metrics.by.length > 0 ? byLabels(metrics.by, values) : [str("__name__", metrics.fn)])), interval, undefined, 1, entry.traceId, startMs);
				break;
			case "min_over_time":
			case "max_over_time":
			case "sum_over_time":
			case "avg_over_time": {
				const raw = numericOf(valueOf(entry, i, metrics.field!));
				if (raw === undefined) break;
				const value = duration ? raw / 1e9 : raw;
				set.observe(cache.get(byKey, () => (metrics.by.length > 0 ? byLabels(metrics.by, values) : [str("__name__", metrics.fn)])), interval, value, 1, entry.traceId, startMs, duration ? value : undefined);
				break;
			}
			case "histogram_over_time":
			case "quantile_over_time": {
				const raw = numericOf(valueOf(entry, i, metrics.field!));
				// Tempo's log2 histograms skip values below 2 (nanoseconds for durations).
				if (raw === undefined || raw < 2) break;
				const exponent = Math.ceil(Math.log2(raw));
				const seconds = duration ? raw / 1e9 : undefined;
				const grouped = () => (metrics.by.length > 0 ? byLabels(metrics.by, values) : []);
				if (metrics.fn === "histogram_over_time") {
					set.observe(cache.get(`${byKey}\u0001${exponent}`, () => [...grouped(), dbl("__bucket", bucketUpper(exponent, duration))]), interval, undefined, 1, entry.traceId, startMs);
				} else {
					set.observeBucket(cache.get(`${byKey}\u0002`, grouped), interval, exponent, 1, entry.traceId, startMs, seconds);
				}
				break;
			}
		}
	}
}

/** A power-of-two bucket's upper bound, in seconds for durations. */
export function bucketUpper(exponent: number, duration: boolean): number {
	const upper = 2 ** exponent;
	return duration ? upper / 1e9 : upper;
}

/**
 * compare(): every attribute value of every span, counted as selection or baseline, plus a
 * `*_total` series per attribute (Tempo's `engine_metrics_compare.go`). Durations, ids and the
 * nested-set numbers are not compared.
 */
function observeCompare(context: MetricsContext, set: SeriesSet, entry: TraceEntry, i: number, interval: number, startMs: number): void {
	const compare = context.metrics.compare!;
	let selected = context.selection!(entry, i);
	if (selected && compare.startNs !== undefined && compare.endNs !== undefined) {
		const startNs = BigInt(entry.spans[i]![2]);
		selected = compare.startNs < startNs && startNs <= compare.endNs;
	}
	const type = selected ? "selection" : "baseline";
	const seen = new Set<string>();
	const count = (key: string, value: TypedValue) => {
		set.observe([str("__meta_type", type), { key, value: labelValue(value) }], interval, undefined, 1, entry.traceId, startMs);
		if (!seen.has(key)) {
			seen.add(key);
			set.observe([str("__meta_type", `${type}_total`), str(key, "nil")], interval, undefined, 1, entry.traceId, startMs);
		}
	};
	const span = entry.spans[i]!;
	for (const index of span[7]) {
		const pair = entry.values[index]!;
		count(`span.${pair[0]}`, { type: pair[1], value: pair[2] });
	}
	for (const index of entry.resources[span[6]] ?? []) {
		const pair = entry.values[index]!;
		count(`resource.${pair[0]}`, { type: pair[1], value: pair[2] });
	}
	for (const name of ["name", "kind", "status", "statusMessage", "rootName", "rootServiceName"] as const) {
		const value = valuesOf(entry, i, { kind: "intrinsic", name })[0];
		if (value && !(name === "statusMessage" && value.value === "")) count(name, value);
	}
}
