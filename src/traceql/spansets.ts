// Evaluates a spanset pipeline on one entry: which of its kept spans are in the result. A spanset
// is a flag per span; `&&` between spansets needs both sides non-empty and returns their union,
// `||` returns the union, structural operators relate the two sides through the span tree, and a
// spanset filter (`count() > 2`) keeps or empties the whole set. One entry is one trace, so a
// trace yields at most one spanset (as the Drilldown's structure tab expects).
import type { TraceEntry } from "../search/entry";
import type { Operator, Pipeline, SpansetExpr, Stage, StructuralOp } from "./ast";
import { testOf, type SpanTest } from "./conditions";
import type { RegexBudget } from "./regex";
import { treeOf, type TraceTree } from "./tree";
import { numericOf, valueOf } from "./values";

export type Spanset = Uint8Array;
export type SpansetEval = (entry: TraceEntry) => Spanset;

export function compilePipeline(pipeline: Pipeline, budget: RegexBudget): SpansetEval {
	const source = compileSpansetExpr(pipeline.source, budget);
	const filters = pipeline.stages.filter((s): s is Stage & { kind: "aggregate" } => s.kind === "aggregate");
	if (filters.length === 0) return source;
	return (entry) => {
		const set = source(entry);
		for (const stage of filters) if (!aggregatePasses(entry, set, stage)) return set.fill(0);
		return set;
	};
}

function compileSpansetExpr(expr: SpansetExpr, budget: RegexBudget): SpansetEval {
	switch (expr.kind) {
		case "filter": {
			const test: SpanTest = testOf(expr.filter, budget);
			return (entry) => {
				const set = new Uint8Array(entry.spans.length);
				for (let i = 0; i < set.length; i++) if (test(entry, i)) set[i] = 1;
				return set;
			};
		}
		case "pipeline":
			return compilePipeline(expr.pipeline, budget);
		case "and":
		case "or": {
			const left = compileSpansetExpr(expr.left, budget);
			const right = compileSpansetExpr(expr.right, budget);
			const both = expr.kind === "and";
			return (entry) => {
				const a = left(entry);
				const b = right(entry);
				if (both && (!any(a) || !any(b))) return a.fill(0);
				for (let i = 0; i < a.length; i++) a[i] = a[i]! | b[i]!;
				return a;
			};
		}
		case "structural": {
			const left = compileSpansetExpr(expr.left, budget);
			const right = compileSpansetExpr(expr.right, budget);
			return (entry) => relate(treeOf(entry), expr.op, expr.mode, left(entry), right(entry));
		}
	}
}

export function any(set: Spanset): boolean {
	for (let i = 0; i < set.length; i++) if (set[i]) return true;
	return false;
}

/**
 * `a OP b`. For each operator, `onRight[i]`: span i (of b) has the relative in `a`;
 * `onLeft[i]`: span i (of a) has the relative in `b` (what the union forms add).
 */
function relate(tree: TraceTree, op: StructuralOp, mode: "plain" | "union" | "not", a: Spanset, b: Spanset): Spanset {
	const n = a.length;
	const out = new Uint8Array(n);
	const related = relation(tree, op, a); // spans with the relative in `a`
	for (let i = 0; i < n; i++) {
		if (!b[i]) continue;
		if (mode === "not" ? !related[i] : related[i]) out[i] = 1;
	}
	if (mode === "union" && any(out)) {
		// The left side's spans that have the converse relative among the right side's matches.
		const converse = relation(tree, CONVERSE[op], out);
		for (let i = 0; i < n; i++) if (a[i] && converse[i]) out[i] = 1;
	}
	return out;
}

const CONVERSE: Record<StructuralOp, StructuralOp> = { ">": "<", "<": ">", ">>": "<<", "<<": ">>", "~": "~" };

/** For each span, whether it relates by `op` to some span in `set`: it is a child (`>`), descendant (`>>`), parent (`<`), ancestor (`<<`) or sibling (`~`) of one. */
function relation(tree: TraceTree, op: StructuralOp, set: Spanset): Uint8Array {
	const n = set.length;
	const out = new Uint8Array(n);
	const { parent, order } = tree;
	switch (op) {
		case ">":
			for (let i = 0; i < n; i++) if (parent[i]! >= 0 && set[parent[i]!]) out[i] = 1;
			break;
		case ">>":
			// Pre-order visits a parent before its children.
			for (const i of order) {
				const p = parent[i]!;
				if (p >= 0 && (set[p] || out[p])) out[i] = 1;
			}
			break;
		case "<":
			for (let i = 0; i < n; i++) if (set[i] && parent[i]! >= 0) out[parent[i]!] = 1;
			break;
		case "<<":
			for (let k = order.length - 1; k >= 0; k--) {
				const i = order[k]!;
				const p = parent[i]!;
				if (p >= 0 && (set[i] || out[i])) out[p] = 1;
			}
			break;
		case "~": {
			const inSet = new Map<number, number>();
			for (let i = 0; i < n; i++) if (set[i] && parent[i]! >= 0) inSet.set(parent[i]!, (inSet.get(parent[i]!) ?? 0) + 1);
			for (let i = 0; i < n; i++) {
				const p = parent[i]!;
				if (p >= 0 && (inSet.get(p) ?? 0) - (set[i] ? 1 : 0) > 0) out[i] = 1;
			}
			break;
		}
	}
	return out;
}

function aggregatePasses(entry: TraceEntry, set: Spanset, stage: Stage & { kind: "aggregate" }): boolean {
	let count = 0;
	let sum = 0;
	let min = Infinity;
	let max = -Infinity;
	let counted = 0;
	for (let i = 0; i < set.length; i++) {
		if (!set[i]) continue;
		count++;
		if (!stage.field) continue;
		const v = numericOf(valueOf(entry, i, stage.field));
		if (v === undefined) continue;
		counted++;
		sum += v;
		if (v < min) min = v;
		if (v > max) max = v;
	}
	if (count === 0) return false;
	let value: number;
	switch (stage.fn) {
		case "count":
			value = count;
			break;
		case "sum":
			value = sum;
			break;
		case "avg":
			if (counted === 0) return false;
			value = sum / counted;
			break;
		case "min":
			if (counted === 0) return false;
			value = min;
			break;
		case "max":
			if (counted === 0) return false;
			value = max;
			break;
	}
	return compareNumbers(value, stage.operator, stage.value);
}

function compareNumbers(a: number, operator: Operator, b: number): boolean {
	switch (operator) {
		case "=":
			return a === b;
		case "!=":
			return a !== b;
		case ">":
			return a > b;
		case ">=":
			return a >= b;
		case "<":
			return a < b;
		case "<=":
			return a <= b;
		default:
			return false;
	}
}
