// From merged counts to Tempo's response: per-function values per interval, quantiles from the
// power-of-two histograms (Tempo's Log2Quantile), compare()'s top values per attribute,
// topk/bottomk, exemplars, and the JSON shapes of QueryRangeResponse and QueryInstantResponse
// (64-bit integers as strings, zero values and COMPLETE left out, as Tempo's encoder writes them).
import type { MetricsStage } from "../ast";
import type { Exemplar, PartialResult, PartialSeries } from "./accumulate";
import { dbl, seriesKey, str, type Label } from "./labels";
import { isDurationField } from "./observe";
import { bucketUpper } from "./observe";
import { sampleTimeMs, type TimeFrame } from "./plan";

export interface FinalSeries {
	labels: Label[];
	/** One value per interval; NaN where the function has no value (the sample is left out). */
	values: number[];
	exemplars: Exemplar[];
}

export function finishSeries(metrics: MetricsStage, frame: TimeFrame, merged: PartialResult): FinalSeries[] {
	const all = Object.values(merged.series);
	let out: FinalSeries[] = [];
	const seconds = frame.stepMs / 1000;
	for (const series of metrics.fn === "compare" ? topValues(all, metrics.compare!.topN) : all) {
		switch (metrics.fn) {
			case "rate":
				out.push({ labels: series.labels, values: series.count.map((c) => c / seconds), exemplars: series.exemplars });
				break;
			case "count_over_time":
			case "histogram_over_time":
			case "compare":
				out.push({ labels: series.labels, values: series.count.slice(), exemplars: series.exemplars });
				break;
			case "min_over_time":
				out.push({ labels: series.labels, values: series.count.map((c, i) => (c > 0 ? series.min![i]! : NaN)), exemplars: series.exemplars });
				break;
			case "max_over_time":
				out.push({ labels: series.labels, values: series.count.map((c, i) => (c > 0 ? series.max![i]! : NaN)), exemplars: series.exemplars });
				break;
			case "sum_over_time":
				out.push({ labels: series.labels, values: series.count.map((c, i) => (c > 0 ? series.sum![i]! : NaN)), exemplars: series.exemplars });
				break;
			case "avg_over_time":
				out.push({ labels: series.labels, values: series.count.map((c, i) => (c > 0 ? series.sum![i]! / c : NaN)), exemplars: series.exemplars });
				break;
			case "quantile_over_time": {
				const duration = isDurationField(metrics.field);
				for (const q of metrics.quantiles) {
					const values = series.buckets!.map((buckets) => log2Quantile(q, buckets, duration));
					// Exemplars belong to the series of the first quantile only: the same spans would repeat.
					out.push({ labels: [...series.labels, dbl("p", q)], values, exemplars: q === metrics.quantiles[0] ? series.exemplars : [] });
				}
				break;
			}
		}
	}
	if (metrics.rank) out = ranked(out, metrics.rank.op, metrics.rank.k);
	// Series with no value at all are left out; series in label order, as Tempo sorts them.
	out = out.filter((s) => s.values.some((v) => !Number.isNaN(v)));
	return out.sort((a, b) => compareText(seriesKey(a.labels), seriesKey(b.labels)));
}

/**
 * Tempo's `Log2Quantile`: find the bucket where the p-th sample falls and interpolate
 * exponentially between the previous bucket's bound and this one's.
 */
export function log2Quantile(p: number, counts: Record<number, number>, duration: boolean): number {
	const buckets = Object.entries(counts)
		.map(([exp, count]) => ({ max: bucketUpper(Number(exp), duration), count }))
		.filter((b) => b.count > 0)
		.sort((a, b) => a.max - b.max);
	const total = buckets.reduce((sum, b) => sum + b.count, 0);
	if (total === 0 || !(p >= 0 && p <= 1)) return 0;
	let maxSamples = Math.ceil(p * total);
	if (maxSamples === 0) maxSamples = 1;
	let seen = 0;
	let bucket = 0;
	for (let i = 0; i < buckets.length; i++) {
		bucket = i;
		if (seen + buckets[i]!.count > maxSamples) break;
		seen += buckets[i]!.count;
		// Exactly the p-th sample: the bucket's upper bound, no interpolation.
		if (seen === maxSamples) return buckets[i]!.max;
	}
	const interp = (maxSamples - seen) / buckets[bucket]!.count;
	const max = Math.log2(buckets[bucket]!.max);
	const min = bucket > 0 ? Math.log2(buckets[bucket - 1]!.max) : max - 1;
	return 2 ** (min + (max - min) * interp);
}

/** compare(): per attribute and side, the topN values by total count, plus every `*_total` series. */
export function topValues(all: PartialSeries[], topN: number): PartialSeries[] {
	const groups = new Map<string, PartialSeries[]>();
	const out: PartialSeries[] = [];
	for (const series of all) {
		const type = (series.labels[0]!.value as { stringValue: string }).stringValue;
		if (type.endsWith("_total")) {
			out.push(series);
			continue;
		}
		const key = `${type}\n${series.labels[1]!.key}`;
		let group = groups.get(key);
		if (!group) groups.set(key, (group = []));
		group.push(series);
	}
	const total = (s: PartialSeries) => s.count.reduce((a, b) => a + b, 0);
	for (const group of groups.values()) out.push(...group.sort((a, b) => total(b) - total(a) || compareText(seriesKey(a.labels), seriesKey(b.labels))).slice(0, topN));
	return out;
}

/** topk/bottomk: per interval, the k highest/lowest series keep their point; the others lose it. */
function ranked(series: FinalSeries[], op: "topk" | "bottomk", k: number): FinalSeries[] {
	const n = series[0]?.values.length ?? 0;
	const kept = series.map((s) => ({ ...s, values: s.values.map(() => NaN) }));
	for (let i = 0; i < n; i++) {
		const order = series
			.map((s, index) => ({ index, value: s.values[i]! }))
			.filter((e) => !Number.isNaN(e.value))
			.sort((a, b) => (op === "topk" ? b.value - a.value : a.value - b.value))
			.slice(0, k);
		for (const { index, value } of order) kept[index]!.values[i] = value;
	}
	return kept;
}

function compareText(a: string, b: string): number {
	return a < b ? -1 : a > b ? 1 : 0;
}

// --- JSON ------------------------------------------------------------------------------------

export interface ResponseStatus {
	inspectedTraces: number;
	inspectedSpans: number;
	jobs: number;
	/** Set when some of the answer is an approximation or was cut: status PARTIAL with this message. */
	partialMessage?: string;
}

/** SearchMetrics as Tempo writes it: only the schema's keys, zero values left out, 64-bit as strings. */
function metricsJson(status: ResponseStatus): Record<string, string | number> {
	const out: Record<string, string | number> = {};
	if (status.inspectedTraces > 0) out.inspectedTraces = status.inspectedTraces;
	if (status.jobs > 0) {
		out.completedJobs = status.jobs;
		out.totalJobs = status.jobs;
	}
	if (status.inspectedSpans > 0) out.inspectedSpans = String(status.inspectedSpans);
	return out;
}

function withStatus<T extends Record<string, unknown>>(body: T, status: ResponseStatus): T {
	if (status.partialMessage) Object.assign(body, { status: "PARTIAL", message: status.partialMessage });
	return body;
}

export function rangeResponse(series: FinalSeries[], frame: TimeFrame, status: ResponseStatus, exemplarLimit: number): Record<string, unknown> {
	let budget = exemplarLimit;
	const perSeries = series.length > 0 ? Math.max(1, Math.ceil(exemplarLimit / series.length)) : 0;
	return withStatus(
		{
			series: series.map((s) => {
				const samples = s.values.flatMap((value, i) => (Number.isNaN(value) ? [] : [value === 0 ? { timestampMs: String(sampleTimeMs(frame, i)) } : { timestampMs: String(sampleTimeMs(frame, i)), value }]));
				const exemplars: Record<string, unknown>[] = [];
				for (const e of s.exemplars) {
					if (budget <= 0 || exemplars.length >= perSeries) break;
					const value = e.value ?? s.values[e.interval];
					// Grafana drops exemplars whose value is 0 or missing.
					if (value === undefined || Number.isNaN(value) || value === 0) continue;
					budget--;
					exemplars.push({ labels: [str("trace:id", e.traceId), ...s.labels.filter((l) => !l.key.startsWith("__"))], value, timestampMs: String(Math.round(e.timestampMs)) });
				}
				return exemplars.length > 0 ? { labels: s.labels, samples, exemplars } : { labels: s.labels, samples };
			}),
			metrics: metricsJson(status),
		},
		status,
	);
}

/** QueryInstantResponse: exactly `series[{labels, value}]`, `metrics`, `status`, `message` (Grafana decodes it strictly). */
export function instantResponse(series: FinalSeries[], status: ResponseStatus): Record<string, unknown> {
	return withStatus(
		{
			series: series.flatMap((s) => {
				const value = s.values[0]!;
				if (Number.isNaN(value)) return [];
				return [value === 0 ? { labels: s.labels } : { labels: s.labels, value }];
			}),
			metrics: metricsJson(status),
		},
		status,
	);
}
