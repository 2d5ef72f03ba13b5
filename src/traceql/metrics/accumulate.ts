// What a metrics query has counted so far, per series and interval, in a form that merges: each
// partition returns one (a partial result over its rows) and the router adds them up. Counts and
// sums add, minima and maxima compare, quantiles keep power-of-two histograms that add.
import type { TimeFrame } from "./plan";
import { seriesKey, type Label } from "./labels";

export interface Exemplar {
	traceId: string;
	timestampMs: number;
	/** The span's own value where the function has one (a duration in seconds); else the sample's. */
	value?: number;
	interval: number;
}

export interface PartialSeries {
	labels: Label[];
	count: number[];
	sum?: number[];
	min?: number[];
	max?: number[];
	/** Per interval: power-of-two exponent → count (quantile_over_time). */
	buckets?: Record<number, number>[];
	exemplars: Exemplar[];
}

export interface PartialResult {
	series: Record<string, PartialSeries>;
	inspectedTraces: number;
	inspectedSpans: number;
	/** Entries read from rows (rows the SQL let through). */
	rowsRead: number;
	/** Traces counted from their open entry (the batch that opened them only). */
	openTraces: number;
	/** Traces with spans beyond the entry's cap (those spans are not counted). */
	truncatedTraces: number;
	/** Rows answered from the rollup column rather than the entry. */
	rollupRows: number;
	/** Some series were left out: more than the answer may hold. */
	seriesLimited?: boolean;
}

export type Needs = { sum: boolean; min: boolean; max: boolean; buckets: boolean };

/** Exemplars kept per series in a partial result (spread over intervals). */
const EXEMPLARS_PER_SERIES = 8;

export class SeriesSet {
	readonly result: PartialResult = { series: {}, inspectedTraces: 0, inspectedSpans: 0, rowsRead: 0, openTraces: 0, truncatedTraces: 0, rollupRows: 0 };

	constructor(
		readonly frame: TimeFrame,
		readonly needs: Needs,
		readonly maxSeries: number,
	) {}

	readonly #keys = new WeakMap<Label[], string>();
	#count = 0;

	/**
	 * The series for a label set, created on first use; undefined once maxSeries is reached. Callers
	 * that reuse one labels array for many observations save its serialization (a WeakMap hit).
	 */
	series(labels: Label[]): PartialSeries | undefined {
		let key = this.#keys.get(labels);
		if (key === undefined) this.#keys.set(labels, (key = seriesKey(labels)));
		let series = this.result.series[key];
		if (series) return series;
		if (this.#count >= this.maxSeries) {
			this.result.seriesLimited = true;
			return undefined;
		}
		this.#count++;
		const n = this.frame.intervals;
		series = { labels, count: new Array<number>(n).fill(0), exemplars: [] };
		if (this.needs.sum) series.sum = new Array<number>(n).fill(0);
		if (this.needs.min) series.min = new Array<number>(n).fill(Number.POSITIVE_INFINITY);
		if (this.needs.max) series.max = new Array<number>(n).fill(Number.NEGATIVE_INFINITY);
		if (this.needs.buckets) series.buckets = Array.from({ length: n }, () => ({}));
		this.result.series[key] = series;
		return series;
	}

	observe(labels: Label[], interval: number, value: number | undefined, weight: number, traceId: string, timestampMs: number, exemplarValue?: number): void {
		const series = this.series(labels);
		if (!series) return;
		series.count[interval]! += weight;
		if (value !== undefined) {
			if (series.sum) series.sum[interval]! += value * weight;
			if (series.min && value < series.min[interval]!) series.min[interval] = value;
			if (series.max && value > series.max[interval]!) series.max[interval] = value;
		}
		if (series.exemplars.length < EXEMPLARS_PER_SERIES && !series.exemplars.some((e) => e.interval === interval)) {
			series.exemplars.push({ traceId, timestampMs, value: exemplarValue, interval });
		}
	}

	/** Adds `weight` values to a power-of-two bucket of an interval. */
	observeBucket(labels: Label[], interval: number, exponent: number, weight: number, traceId: string, timestampMs: number, exemplarValue?: number): void {
		const series = this.series(labels);
		if (!series?.buckets) return;
		series.count[interval]! += weight;
		const buckets = series.buckets[interval]!;
		buckets[exponent] = (buckets[exponent] ?? 0) + weight;
		if (series.exemplars.length < EXEMPLARS_PER_SERIES && !series.exemplars.some((e) => e.interval === interval)) {
			series.exemplars.push({ traceId, timestampMs, value: exemplarValue, interval });
		}
	}
}

/** Adds partial results (from several partitions) into one. */
export function mergePartials(parts: readonly PartialResult[], maxSeries: number): PartialResult & { seriesLimited: boolean } {
	const out: PartialResult & { seriesLimited: boolean } = { series: {}, inspectedTraces: 0, inspectedSpans: 0, rowsRead: 0, openTraces: 0, truncatedTraces: 0, rollupRows: 0, seriesLimited: false };
	let count = 0;
	for (const part of parts) {
		out.inspectedTraces += part.inspectedTraces;
		out.inspectedSpans += part.inspectedSpans;
		out.rowsRead += part.rowsRead;
		out.openTraces += part.openTraces;
		out.truncatedTraces += part.truncatedTraces;
		out.rollupRows += part.rollupRows;
		if (part.seriesLimited) out.seriesLimited = true;
		for (const [key, series] of Object.entries(part.series)) {
			const known = out.series[key];
			if (!known) {
				if (count >= maxSeries) {
					out.seriesLimited = true;
					continue;
				}
				count++;
				out.series[key] = series;
				continue;
			}
			for (let i = 0; i < known.count.length; i++) {
				known.count[i]! += series.count[i] ?? 0;
				if (known.sum && series.sum) known.sum[i]! += series.sum[i]!;
				if (known.min && series.min) known.min[i] = Math.min(known.min[i]!, series.min[i]!);
				if (known.max && series.max) known.max[i] = Math.max(known.max[i]!, series.max[i]!);
				if (known.buckets && series.buckets) {
					for (const [exp, count] of Object.entries(series.buckets[i]!)) known.buckets[i]![Number(exp)] = (known.buckets[i]![Number(exp)] ?? 0) + count;
				}
			}
			for (const e of series.exemplars) if (known.exemplars.length < EXEMPLARS_PER_SERIES * 2 && !known.exemplars.some((k) => k.interval === e.interval)) known.exemplars.push(e);
		}
	}
	return out;
}
