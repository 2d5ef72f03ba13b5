// Rollups: what the Drilldown's first page asks of every trace in the range (RED: span counts,
// errors and duration histograms by service, span name, kind and status, for root spans or all),
// precomputed from the entry and written in the entry's own row (two text columns: no extra row
// per trace). Spans are grouped by the second their start falls in, (s − 1, s]: for a query whose
// step and aligned start are whole seconds (every Drilldown query: Grafana sends seconds and
// steps of whole seconds), adding up windows gives exactly what counting spans would.
import type { TraceEntry } from "../../search/entry";
import type { Expr, Field, Query } from "../ast";
import { compileRegex } from "../regex";
import { treeOf } from "../tree";
import type { SeriesSet } from "./accumulate";
import { byLabels, bucketUpper, isDurationField } from "./observe";
import { dbl, str, type LabelCache } from "./labels";
import { intervalOf, type TimeFrame } from "./plan";
import type { TypedValue } from "../values";

/**
 * One group: [window (unix s), service, name, kind, status, count, exponent, count, exponent, count, ...],
 * service and name as indexes into the rollup's string table.
 */
type Group = number[];

export interface Rollup {
	/** Strings (services, span names) the groups index. */
	t: string[];
	g: Group[];
	/** Spans of the trace beyond the entry's cap: not in the rollup (the answer is partial). */
	d?: number;
}

/** The rollups of an entry: root spans, and every other span. Serialized into the row's two columns. */
export function rollupsOf(entry: TraceEntry): { roots: string; spans: string } {
	const tree = treeOf(entry);
	const tables = [new Rollups(), new Rollups()];
	entry.spans.forEach((span, i) => {
		const service = serviceOf(entry, span[6]);
		tables[tree.root[i] ? 0 : 1]!.add(Math.ceil(Number(span[2]) / 1e9), service, span[1], span[4], span[5], span[3]);
	});
	const dropped = entry.dropped?.spans ?? 0;
	return { roots: tables[0]!.json(dropped), spans: tables[1]!.json(dropped) };
}

class Rollups {
	readonly #strings = new Map<string, number>();
	readonly #groups = new Map<string, { group: Group; buckets: Map<number, number> }>();

	add(window: number, service: string, name: string, kind: number, status: number, durationNs: number): void {
		const s = this.#string(service);
		const n = this.#string(name);
		const key = `${window},${s},${n},${kind},${status}`;
		let entry = this.#groups.get(key);
		if (!entry) this.#groups.set(key, (entry = { group: [window, s, n, kind, status, 0], buckets: new Map() }));
		entry.group[5]!++;
		if (durationNs >= 2) {
			const exponent = Math.ceil(Math.log2(durationNs));
			entry.buckets.set(exponent, (entry.buckets.get(exponent) ?? 0) + 1);
		}
	}

	json(dropped: number): string {
		const rollup: Rollup = { t: [...this.#strings.keys()], g: [...this.#groups.values()].map(({ group, buckets }) => [...group, ...[...buckets].flat()]) };
		if (dropped > 0) rollup.d = dropped;
		return JSON.stringify(rollup);
	}

	#string(text: string): number {
		let index = this.#strings.get(text);
		if (index === undefined) this.#strings.set(text, (index = this.#strings.size));
		return index;
	}
}

function serviceOf(entry: TraceEntry, resource: number): string {
	for (const index of entry.resources[resource] ?? []) {
		const pair = entry.values[index]!;
		if (pair[0] === "service.name" && pair[1] === "s") return pair[2] as string;
	}
	return "unknown_service";
}

// --- answering from rollups ------------------------------------------------------------------

/** What a group offers a query: the span facts a rollup keeps. */
interface GroupView {
	root: boolean;
	service: string;
	name: string;
	kind: number;
	status: number;
}

type GroupTest = (g: GroupView) => boolean;

export interface RollupPlan {
	/** Root spans only: the roots column is enough. */
	rootsOnly: boolean;
	test: GroupTest;
	fields: Field[];
}

const SERVICE_KEY = "service.name";

/**
 * Whether rollups answer the query exactly, and how: a single spanset of conditions on root-ness,
 * service, name, kind and status, counted (rate, count) or bucketed by duration (histogram,
 * quantile), grouped by those fields, over a frame of whole seconds.
 */
export function rollupPlan(query: Query, frame: TimeFrame): RollupPlan | undefined {
	const metrics = query.metrics;
	if (!metrics || query.pipeline.stages.length > 0 || query.pipeline.source.kind !== "filter") return undefined;
	if (frame.startMs % 1000 !== 0 || frame.stepMs % 1000 !== 0) return undefined;
	const counted = metrics.fn === "rate" || metrics.fn === "count_over_time";
	const bucketed = (metrics.fn === "histogram_over_time" || metrics.fn === "quantile_over_time") && metrics.field?.kind === "intrinsic" && metrics.field.name === "duration";
	if (!counted && !bucketed) return undefined;
	if (!metrics.by.every((f) => groupValue(f) !== undefined)) return undefined;
	const filter = query.pipeline.source.filter;
	const test = groupTestOf(filter);
	if (!test) return undefined;
	return { rootsOnly: requiresRoot(filter), test, fields: metrics.by };
}

function groupValue(field: Field): ((g: GroupView) => TypedValue) | undefined {
	if (field.kind === "attribute") return field.scope === "resource" && field.key === SERVICE_KEY ? (g) => ({ type: "s", value: g.service }) : undefined;
	switch (field.name) {
		case "name":
			return (g) => ({ type: "s", value: g.name });
		case "kind":
			return (g) => ({ type: "kind", value: g.kind });
		case "status":
			return (g) => ({ type: "status", value: g.status });
		default:
			return undefined;
	}
}

function groupTestOf(expr: Expr | undefined): GroupTest | undefined {
	if (!expr) return () => true;
	if (expr.op === "static") return () => expr.value;
	if (expr.op !== "cond") {
		const left = groupTestOf(expr.left);
		const right = groupTestOf(expr.right);
		if (!left || !right) return undefined;
		return expr.op === "and" ? (g) => left(g) && right(g) : (g) => left(g) || right(g);
	}
	const { field, operator, value } = expr;
	if (field.kind === "intrinsic" && field.name === "nestedSetParent") {
		// Only the root test the Drilldown writes: nestedSetParent<0 (or = -1).
		if (value.type === "int" && ((operator === "<" && value.value === 0) || (operator === "=" && value.value === -1))) return (g) => g.root;
		return undefined;
	}
	const read = groupValue(field);
	if (!read) return undefined;
	if (value.type === "nil") return () => operator === "!=";
	if (operator === "=~" || operator === "!~") {
		const regex = compileRegex(value.value as string);
		const want = operator === "=~";
		return (g) => {
			const v = read(g);
			return v.type === "s" && regex.test(v.value as string) === want;
		};
	}
	if (operator !== "=" && operator !== "!=") return undefined;
	const equal = operator === "=";
	const wanted = value.value;
	const types = value.type === "string" ? ["s"] : value.type === "status" ? ["status"] : value.type === "kind" ? ["kind"] : value.type === "int" ? ["status", "kind"] : [];
	if (types.length === 0) return undefined;
	return (g) => {
		const v = read(g);
		return types.includes(v.type) && (v.value === wanted) === equal;
	};
}

/** Whether every span the filter accepts is a root (a top-level conjunction holding the root test). */
function requiresRoot(expr: Expr | undefined): boolean {
	if (!expr) return false;
	if (expr.op === "and") return requiresRoot(expr.left) || requiresRoot(expr.right);
	return expr.op === "cond" && expr.field.kind === "intrinsic" && expr.field.name === "nestedSetParent";
}

/** Adds one row's rollup to the series; returns the spans it holds and the spans its trace lost to the entry's cap. */
export function observeRollup(plan: RollupPlan, query: Query, frame: TimeFrame, set: SeriesSet, traceId: string, text: string, root: boolean, cache: LabelCache): { spans: number; dropped: number } {
	const rollup = JSON.parse(text) as Rollup;
	const metrics = query.metrics!;
	const readers = plan.fields.map((f) => groupValue(f)!);
	const duration = isDurationField(metrics.field);
	let spans = 0;
	for (const group of rollup.g) {
		const view: GroupView = { root, service: rollup.t[group[1]!]!, name: rollup.t[group[2]!]!, kind: group[3]!, status: group[4]! };
		const count = group[5]!;
		spans += count;
		if (!plan.test(view)) continue;
		const windowMs = group[0]! * 1000;
		const interval = intervalOf(frame, windowMs);
		if (interval < 0) continue;
		const values = readers.map((read) => read(view));
		const byKey = values.map((v) => `${v.type}:${String(v.value)}`).join("\u0000");
		const labels = cache.get(byKey, () => (metrics.by.length > 0 ? byLabels(metrics.by, values) : [str("__name__", metrics.fn)]));
		if (metrics.fn === "rate" || metrics.fn === "count_over_time") {
			set.observe(labels, interval, undefined, count, traceId, windowMs);
			continue;
		}
		for (let k = 6; k + 1 < group.length; k += 2) {
			const exponent = group[k]!;
			const n = group[k + 1]!;
			if (metrics.fn === "histogram_over_time") {
				const bucketLabels = cache.get(`${byKey}\u0001${exponent}`, () => [...(metrics.by.length > 0 ? labels : []), dbl("__bucket", bucketUpper(exponent, duration))]);
				set.observe(bucketLabels, interval, undefined, n, traceId, windowMs);
			} else {
				const quantileLabels = cache.get(`${byKey}\u0002`, () => (metrics.by.length > 0 ? labels : []));
				set.observeBucket(quantileLabels, interval, exponent, n, traceId, windowMs, bucketUpper(exponent, duration));
			}
		}
	}
	return { spans, dropped: rollup.d ?? 0 };
}

