// The SQL prefilter a partition runs over its rows before the exact test: a necessary condition
// of the query (it may let through traces that do not match, never drops one that does), built
// from the row's columns (see src/search/row.ts): Bloom bits and terms for attribute equality,
// min/max span durations, the error flag, root name and service.
import type { ValueType } from "../search/entry";
import { KEY_MAX_CHARS, VALUE_MAX_CHARS } from "../search/entry";
import { bloomPositions, nameTerm, term } from "../search/row";
import type { Condition, Expr, Pipeline, SpansetExpr } from "./ast";
import { literalValue } from "./conditions";

export interface Prefilter {
	sql: string;
	params: (string | number)[];
}

export function prefilterOfPipeline(pipeline: Pipeline): Prefilter {
	const params: (string | number)[] = [];
	return { sql: spansetPrefilter(pipeline.source, params), params };
}

/** Spanset `&&` and structural operators need both sides to match somewhere; a negated one only its right side. */
function spansetPrefilter(expr: SpansetExpr, params: (string | number)[]): string {
	switch (expr.kind) {
		case "filter":
			return expr.filter ? prefilterOf(expr.filter, params) : "1";
		case "pipeline":
			return spansetPrefilter(expr.pipeline.source, params);
		case "or":
			return or(spansetPrefilter(expr.left, params), spansetPrefilter(expr.right, params));
		case "and":
			return and(spansetPrefilter(expr.left, params), spansetPrefilter(expr.right, params));
		case "structural":
			if (expr.mode === "not") return spansetPrefilter(expr.right, params);
			return and(spansetPrefilter(expr.left, params), spansetPrefilter(expr.right, params));
	}
}

function and(left: string, right: string): string {
	if (left === "0" || right === "0") return "0";
	return left === "1" ? right : right === "1" ? left : `(${left} AND ${right})`;
}

function or(left: string, right: string): string {
	if (left === "0") return right;
	if (right === "0") return left;
	return left === "1" || right === "1" ? "1" : `(${left} OR ${right})`;
}

/** Bound parameters a prefilter may use (a statement takes at most 100; the rest of it needs a few). */
const MAX_PREFILTER_PARAMS = 80;

function prefilterOf(expr: Expr, params: (string | number)[]): string {
	if (expr.op === "static") return expr.value ? "1" : "0";
	if (expr.op !== "cond") {
		const left = prefilterOf(expr.left, params);
		const right = prefilterOf(expr.right, params);
		return expr.op === "and" ? and(left, right) : or(left, right);
	}
	// nil tests and the nested-set numbers have no column: every row passes.
	if (expr.value.type === "nil") return "1";
	return conditionPrefilter(expr, params);
}

function conditionPrefilter(condition: Condition, params: (string | number)[]): string {
	const { field, operator, value } = condition;
	const bind = (...values: (string | number)[]): string[] | undefined => {
		if (params.length + values.length > MAX_PREFILTER_PARAMS) return undefined;
		return values.map((v) => {
			params.push(v);
			return `?${params.length}`;
		});
	};
	if (field.kind === "attribute") {
		if (operator !== "=") return "1";
		const key = field.key.slice(0, KEY_MAX_CHARS);
		const scopes: ("r" | "s")[] = field.scope === "resource" ? ["r"] : field.scope === "span" ? ["s"] : ["r", "s"];
		const forms: [ValueType, string | number | boolean][] =
			value.type === "string" ? [["s", literalValue(value)]]
			: value.type === "int" || value.type === "float" ? [["i", value.value], ["d", value.value]]
			: value.type === "bool" ? [["b", value.value]]
			: [];
		if (forms.length === 0) return "0";
		const terms = scopes.flatMap((scope) => forms.map(([type, v]) => term(scope, type, key, v)));
		const tests = terms.map((t) => termTest(t, bind));
		return tests.includes(undefined) ? "1" : `(${tests.join(" OR ")})`;
	}
	const numeric = typeof value.value === "number" ? value.value : undefined;
	switch (field.name) {
		case "name": {
			if (operator !== "=" || value.type !== "string") return "1";
			return termTest(nameTerm(value.value.slice(0, VALUE_MAX_CHARS)), bind) ?? "1";
		}
		case "status":
			if (operator === "=" && numeric === 2) return "error = 1";
			return "1";
		case "duration": {
			if (numeric === undefined) return "1";
			const n = bind(numeric);
			if (!n) return "1";
			if (operator === ">" || operator === ">=") return `max_span_ns ${operator} ${n[0]}`;
			if (operator === "<" || operator === "<=") return `min_span_ns ${operator} ${n[0]}`;
			if (operator === "=") return `(min_span_ns <= ${n[0]} AND max_span_ns >= ${n[0]})`;
			return "1";
		}
		case "traceDuration": {
			if (numeric === undefined || operator === "=~" || operator === "!~") return "1";
			const n = bind(numeric);
			return n ? `duration_ns ${operator === "=" ? "=" : operator} ${n[0]}` : "1";
		}
		case "rootName":
		case "rootServiceName": {
			if (operator !== "=" || value.type !== "string") return "1";
			const n = bind(literalValue(value) as string);
			return n ? `${field.name === "rootName" ? "root_name" : "root_service"} = ${n[0]}` : "1";
		}
		default:
			return "1";
	}
}

/**
 * Whether a row's terms hold `t`: first its Bloom bits (integer tests that skip nearly every row
 * without the term), then the exact text, so `instr` only runs on the few rows that pass.
 */
function termTest(t: string, bind: (...values: (string | number)[]) => string[] | undefined): string | undefined {
	const bits = new Map<number, Set<number>>();
	for (const [column, bit] of bloomPositions(t)) {
		let set = bits.get(column);
		if (!set) bits.set(column, (set = new Set()));
		set.add(bit);
	}
	// Sums of distinct powers of two below 2^50: exact as JavaScript numbers (bitwise operators would cut them to 32 bits).
	const masks = [...bits.values()].map((set) => [...set].reduce((sum, bit) => sum + 2 ** bit, 0));
	const names = bind(...masks, `\n${t}\n`);
	if (!names) return undefined;
	const columns = [...bits.keys()];
	const bloom = columns.map((column, i) => `(b${column} & ${names[i]}) = ${names[i]}`).join(" AND ");
	return `(${bloom} AND instr(terms, ${names[columns.length]}) > 0)`;
}
