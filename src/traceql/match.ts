// Evaluates a parsed TraceQL query against search entries: a SQL prefilter that a partition runs
// over its rows (a necessary condition, so it may let through traces that do not match but never
// drops one that does), then the exact test in code, span by span, on the entries that pass.
import type { EntrySpan, Pair, TraceEntry, ValueType } from "../search/entry";
import { KEY_MAX_CHARS, VALUE_MAX_CHARS } from "../search/entry";
import { bloomPositions, nameTerm, term } from "../search/row";
import { compileRegex, type Condition, type Expr, type Literal, type Query } from "./parse";

/** A span set as search returns it: the spans that matched, up to `spss` of them. */
export interface MatchedSpan {
	spanId: string;
	name: string;
	startNs: string;
	durationNs: number;
	/** The attributes the query named, as the span (or its resource) has them. */
	attributes: Pair[];
}

export interface TraceMatch {
	matched: number;
	spans: MatchedSpan[];
}

type SpanTest = (entry: TraceEntry, span: EntrySpan) => boolean;

export interface CompiledQuery {
	/** SQL boolean over the partition's columns, with its parameters. */
	prefilter: { sql: string; params: (string | number)[] };
	/** Undefined when nothing in the trace matches. */
	match(entry: TraceEntry, spss: number): TraceMatch | undefined;
	/** Whether one span of the entry matches. */
	spanMatches(entry: TraceEntry, span: EntrySpan): boolean;
	/** `{}`: every span of every trace matches. */
	matchesEverything: boolean;
}

export function compileQuery(query: Query): CompiledQuery {
	const params: (string | number)[] = [];
	const sql = query.filter ? prefilterOf(query.filter, params) : "1";
	const test = query.filter ? testOf(query.filter) : () => true;
	const named = query.filter ? namedAttributes(query.filter) : [];
	return {
		prefilter: { sql, params },
		spanMatches: test,
		matchesEverything: query.filter === undefined,
		match(entry, spss) {
			let matched = 0;
			const spans: MatchedSpan[] = [];
			for (const span of entry.spans) {
				if (!test(entry, span)) continue;
				matched++;
				if (spans.length < spss) spans.push({ spanId: span[0], name: span[1], startNs: span[2], durationNs: span[3], attributes: attributesNamed(entry, span, named) });
			}
			return matched > 0 ? { matched, spans } : undefined;
		},
	};
}

// --- the exact test --------------------------------------------------------------------------

function testOf(expr: Expr): SpanTest {
	if (expr.op === "cond") return conditionTest(expr);
	const left = testOf(expr.left);
	const right = testOf(expr.right);
	if (expr.op === "and") return (entry, span) => left(entry, span) && right(entry, span);
	return (entry, span) => left(entry, span) || right(entry, span);
}

function conditionTest(condition: Condition): SpanTest {
	const compare = comparator(condition);
	const field = condition.field;
	if (field.kind === "attribute") {
		const key = field.key.slice(0, KEY_MAX_CHARS);
		const inSpan = field.scope !== "resource";
		const inResource = field.scope !== "span";
		// Tempo's rule: a comparison with an attribute the span does not have is false (also for != and !~).
		return (entry, span) => {
			if (inSpan) for (const index of span[7]) if (matchesPair(entry.values[index]!, key, compare)) return true;
			if (inResource) for (const index of entry.resources[span[6]] ?? []) if (matchesPair(entry.values[index]!, key, compare)) return true;
			return false;
		};
	}
	switch (field.name) {
		case "name":
			return (_entry, span) => compare("s", span[1]);
		case "statusMessage":
			return (_entry, span) => compare("s", span[8]);
		case "status":
			return (_entry, span) => compare("status", span[5]);
		case "kind":
			return (_entry, span) => compare("kind", span[4]);
		case "duration":
			return (_entry, span) => compare("duration", span[3]);
		case "traceDuration":
			return (entry) => compare("duration", Number(BigInt(entry.endNs) - BigInt(entry.startNs)));
		case "rootName":
			return (entry) => entry.rootName !== undefined && compare("s", entry.rootName);
		case "rootServiceName":
			return (entry) => entry.rootServiceName !== undefined && compare("s", entry.rootServiceName);
	}
}

function matchesPair(pair: Pair, key: string, compare: Compare): boolean {
	return pair[0] === key && compare(pair[1], pair[2]);
}

type Compare = (type: ValueType | "status" | "kind" | "duration", value: string | number | boolean) => boolean;

/** A typed comparison: a string literal compares with strings, a number with ints and doubles, and so on. */
function comparator({ operator, value: literal }: Condition): Compare {
	if (operator === "=~" || operator === "!~") {
		const regex = compileRegex(literal.value as string);
		const want = operator === "=~";
		return (type, value) => type === "s" && regex.test(value as string) === want;
	}
	const wanted = literalValue(literal);
	const accepts = acceptedTypes(literal);
	const order = (a: string | number | boolean, b: string | number | boolean): number => (a < b ? -1 : a > b ? 1 : 0);
	return (type, value) => {
		if (!accepts.includes(type)) return false;
		const c = order(value, wanted);
		switch (operator) {
			case "=":
				return c === 0;
			case "!=":
				return c !== 0;
			case ">":
				return c > 0;
			case ">=":
				return c >= 0;
			case "<":
				return c < 0;
			default:
				return c <= 0;
		}
	};
}

function literalValue(literal: Literal): string | number | boolean {
	// Stored values are cut to VALUE_MAX_CHARS: a longer literal matches by the same prefix.
	return literal.type === "string" ? literal.value.slice(0, VALUE_MAX_CHARS) : literal.value;
}

function acceptedTypes(literal: Literal): string[] {
	switch (literal.type) {
		case "string":
			return ["s"];
		case "int":
		case "float":
			// A plain number also compares with durations (as nanoseconds), statuses and kinds (as codes).
			return ["i", "d", "duration", "status", "kind"];
		case "bool":
			return ["b"];
		case "duration":
			return ["duration"];
		case "status":
			return ["status"];
		case "kind":
			return ["kind"];
	}
}

// --- the SQL prefilter -------------------------------------------------------------------------

/** Bound parameters a prefilter may use (a statement takes at most 100; the rest of it needs a few). */
const MAX_PREFILTER_PARAMS = 80;

function prefilterOf(expr: Expr, params: (string | number)[]): string {
	if (expr.op !== "cond") {
		const left = prefilterOf(expr.left, params);
		const right = prefilterOf(expr.right, params);
		if (expr.op === "and") return left === "1" ? right : right === "1" ? left : `(${left} AND ${right})`;
		return left === "1" || right === "1" ? "1" : `(${left} OR ${right})`;
	}
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

// --- attributes shown with matched spans -----------------------------------------------------

interface NamedAttribute {
	key: string;
	span: boolean;
	resource: boolean;
}

function namedAttributes(expr: Expr): NamedAttribute[] {
	if (expr.op !== "cond") {
		const all = [...namedAttributes(expr.left), ...namedAttributes(expr.right)];
		return all.filter((a, i) => all.findIndex((b) => b.key === a.key && b.span === a.span && b.resource === a.resource) === i);
	}
	const field = expr.field;
	if (field.kind !== "attribute") return [];
	return [{ key: field.key, span: field.scope !== "resource", resource: field.scope !== "span" }];
}

function attributesNamed(entry: TraceEntry, span: EntrySpan, named: readonly NamedAttribute[]): Pair[] {
	const out: Pair[] = [];
	for (const attribute of named) {
		const sources = [...(attribute.span ? span[7] : []), ...(attribute.resource ? (entry.resources[span[6]] ?? []) : [])];
		const index = sources.find((i) => entry.values[i]?.[0] === attribute.key);
		if (index !== undefined) out.push(entry.values[index]!);
	}
	return out;
}
