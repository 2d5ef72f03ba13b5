// TraceQL as Grafana writes it: spansets `{ ... }` of conditions joined by `&&` and `||`, combined
// with `&&`, `||` and structural operators (`>>`, `>`, `<<`, `<`, `~`, their union `&` and
// negated `!` forms), a pipeline of `select(...)` and spanset filters (`count() > 2`,
// `avg(duration) > 1s`), at most one metrics function (`rate()`, `*_over_time`, `compare`, with
// `by(...)` and `| topk(k)`), and hints `with(...)`. Parsing never throws to its caller: it returns
// a typed query or a QueryError whose message the HTTP edge sends with a 400. Anything else is
// refused with a message that names what is not supported.
import type { CompareArgs, Condition, Expr, Field, HintValue, Literal, MetricsFunction, MetricsStage, Operator, Pipeline, Query, Scope, SpansetExpr, Stage, StructuralOp } from "./ast";
import { QueryError } from "./errors";
import { INTRINSIC_NAMES, KIND_KEYWORDS, STATUS_KEYWORDS, UNSUPPORTED_INTRINSICS } from "./fields";
import { tokenize, where, type Token } from "./lexer";
import { compileRegex, QUERY_MAX_REGEX_INSTRUCTIONS } from "./regex";

export type { CompareArgs, Condition, Expr, Field, Literal, MetricsFunction, MetricsStage, Operator, Pipeline, Query, Scope, SpansetExpr, Stage, StructuralOp } from "./ast";
export type { Intrinsic } from "./fields";
export { KIND_KEYWORDS, STATUS_KEYWORDS } from "./fields";
export { QueryError } from "./errors";

export type ParseResult = { ok: true; query: Query } | { ok: false; error: QueryError };

/** Longest query text accepted; Grafana writes a few hundred characters at most. */
export const MAX_QUERY_LENGTH = 8192;
/** Conditions in one query: each becomes a bounded amount of work per span, and SQL parameters. */
export const MAX_CONDITIONS = 32;
/** Spansets in one query: each is evaluated over every kept span of every candidate trace. */
export const MAX_SPANSETS = 16;
const MAX_DEPTH = 32;
/** Tempo's limits on by(): five attributes, four for histograms and quantiles (a bucket or p label is added). */
export const MAX_BY = 5;
export const MAX_BY_HISTOGRAM = 4;
export const MAX_COMPARE_TOP = 1_000;

/** Begins the message of a QueryError that stands for a bug in the parser, not in the query. */
export const INTERNAL_PARSE_ERROR = "internal error in the TraceQL parser";

/**
 * The user-facing entry point: a typed query, or the QueryError that explains why not. A crash of
 * the parser itself (a bug) still answers as a QueryError, so the caller sees a 400 rather than a
 * 5xx, but one whose message begins INTERNAL_PARSE_ERROR and that is logged: the endpoint fuzz
 * fails on that text, and the grammar fuzz calls `parseQuery`, which lets every exception through.
 */
export function parseTraceQL(text: string): ParseResult {
	try {
		return { ok: true, query: parseQuery(text) };
	} catch (e) {
		if (e instanceof QueryError) return { ok: false, error: e };
		console.error("traceql: parser crashed on a query", JSON.stringify(text.slice(0, 300)), e);
		return { ok: false, error: new QueryError(`${INTERNAL_PARSE_ERROR} (please report the query): ${e instanceof Error ? e.message : String(e)}`) };
	}
}

/** Parses or raises a QueryError; any other exception is a bug and propagates. */
export function parseQuery(text: string): Query {
	if (text.length > MAX_QUERY_LENGTH) throw new QueryError(`query is longer than ${MAX_QUERY_LENGTH} characters`);
	if (text.trim() === "") return { filter: undefined, pipeline: { source: { kind: "filter", filter: undefined }, stages: [] }, select: [], hints: {} };
	return new Parser(tokenize(text)).query();
}

const STRUCTURAL: Record<string, { op: StructuralOp; mode: "plain" | "union" | "not" }> = {
	">": { op: ">", mode: "plain" },
	">>": { op: ">>", mode: "plain" },
	"<": { op: "<", mode: "plain" },
	"<<": { op: "<<", mode: "plain" },
	"~": { op: "~", mode: "plain" },
	"&>": { op: ">", mode: "union" },
	"&>>": { op: ">>", mode: "union" },
	"&<": { op: "<", mode: "union" },
	"&<<": { op: "<<", mode: "union" },
	"&~": { op: "~", mode: "union" },
	"!>": { op: ">", mode: "not" },
	"!>>": { op: ">>", mode: "not" },
	"!<": { op: "<", mode: "not" },
	"!<<": { op: "<<", mode: "not" },
	"!~": { op: "~", mode: "not" },
};

const METRICS_FUNCTIONS = new Set<string>(["rate", "count_over_time", "min_over_time", "max_over_time", "sum_over_time", "avg_over_time", "quantile_over_time", "histogram_over_time", "compare"]);
const AGGREGATES = new Set(["count", "avg", "min", "max", "sum"]);

class Parser {
	#pos = 0;
	#conditions = 0;
	#spansets = 0;
	#regexInstructions = 0;
	constructor(readonly tokens: Token[]) {}

	query(): Query {
		const pipeline = this.#pipeline(0, true);
		let metrics: MetricsStage | undefined;
		if (this.#isPunct("|")) {
			this.#pos++;
			metrics = this.#metrics();
			if (this.#isPunct("|")) {
				this.#pos++;
				metrics.rank = this.#rank();
			}
		}
		const hints = this.#isIdent("with") ? this.#hints() : {};
		const next = this.#peek();
		if (next.t !== "end") throw new QueryError(trailingMessage(next, metrics !== undefined));
		const single = pipeline.stages.length === 0 && pipeline.source.kind === "filter" ? pipeline.source.filter : undefined;
		const select = pipeline.stages.flatMap((s) => (s.kind === "select" ? s.fields : []));
		return { filter: single, pipeline, select, metrics, hints };
	}

	/** Spansets and their stages. At the top level a metrics function ends the pipeline (the caller reads it). */
	#pipeline(depth: number, top: boolean): Pipeline {
		const source = this.#spansetOr(depth);
		const stages: Stage[] = [];
		while (this.#isPunct("|")) {
			const name = this.#peekAt(1);
			if (name.t === "ident" && (METRICS_FUNCTIONS.has(name.v) || name.v === "topk" || name.v === "bottomk")) {
				if (!top) throw new QueryError(`a metrics function (${name.v}) must end the query, not sit inside parentheses`);
				break;
			}
			this.#pos++;
			stages.push(this.#stage());
		}
		return { source, stages };
	}

	#spansetOr(depth: number): SpansetExpr {
		let left = this.#spansetAnd(depth);
		while (this.#isPunct("||")) {
			this.#pos++;
			left = { kind: "or", left, right: this.#spansetAnd(depth) };
		}
		return left;
	}

	#spansetAnd(depth: number): SpansetExpr {
		let left = this.#structural(depth);
		while (this.#isPunct("&&")) {
			this.#pos++;
			left = { kind: "and", left, right: this.#structural(depth) };
		}
		return left;
	}

	#structural(depth: number): SpansetExpr {
		let left = this.#spansetPrimary(depth);
		for (;;) {
			const token = this.#peek();
			const op = token.t === "punct" ? STRUCTURAL[token.v] : undefined;
			if (!op) return left;
			this.#pos++;
			left = { kind: "structural", op: op.op, mode: op.mode, left, right: this.#spansetPrimary(depth) };
		}
	}

	#spansetPrimary(depth: number): SpansetExpr {
		if (depth > MAX_DEPTH) throw new QueryError(`parentheses nested deeper than ${MAX_DEPTH}`);
		if (this.#isPunct("(")) {
			this.#pos++;
			const inner = this.#pipeline(depth + 1, false);
			this.#expectPunct(")", "expected ')' after a spanset expression");
			return inner.stages.length === 0 ? inner.source : { kind: "pipeline", pipeline: inner };
		}
		return { kind: "filter", filter: this.#spanset(depth) };
	}

	/** One `{ ... }`. */
	#spanset(depth: number): Expr | undefined {
		if (++this.#spansets > MAX_SPANSETS) throw new QueryError(`more than ${MAX_SPANSETS} spansets in one query`);
		this.#expectPunct("{", "expected a spanset in braces, like {} or {resource.service.name=\"frontend\"}");
		let filter: Expr | undefined;
		if (!this.#isPunct("}")) filter = this.#or(depth);
		this.#expectPunct("}", "expected '}' or '&&' / '||' between conditions");
		return filter;
	}

	#or(depth: number): Expr {
		let left = this.#and(depth);
		while (this.#isPunct("||")) {
			this.#pos++;
			left = { op: "or", left, right: this.#and(depth) };
		}
		return left;
	}

	#and(depth: number): Expr {
		let left = this.#primary(depth);
		while (this.#isPunct("&&")) {
			this.#pos++;
			left = { op: "and", left, right: this.#primary(depth) };
		}
		return left;
	}

	#primary(depth: number): Expr {
		if (depth > MAX_DEPTH) throw new QueryError(`parentheses nested deeper than ${MAX_DEPTH}`);
		if (this.#isPunct("(")) {
			this.#pos++;
			const inner = this.#or(depth + 1);
			this.#expectPunct(")", "expected ')'");
			return inner;
		}
		if (this.#isPunct("{")) throw new QueryError("a spanset cannot sit inside another spanset's braces: combine spansets outside them, {a} && {b}");
		const token = this.#peek();
		if (token.t === "ident" && (token.v === "true" || token.v === "false")) {
			const after = this.#peekAt(1);
			if (!(after.t === "punct" && isOperator(after.v))) {
				this.#pos++;
				return { op: "static", value: token.v === "true" };
			}
		}
		return this.#condition();
	}

	#condition(): Condition {
		if (++this.#conditions > MAX_CONDITIONS) throw new QueryError(`more than ${MAX_CONDITIONS} conditions in one query`);
		const field = this.#field();
		const opToken = this.#peek();
		if (opToken.t !== "punct" || !isOperator(opToken.v)) {
			if (opToken.t === "punct" && (opToken.v === "}" || opToken.v === "&&" || opToken.v === "||" || opToken.v === ")")) {
				throw new QueryError(`a condition needs an operator and a value: ${describeField(field)} alone is not supported (write e.g. ${describeField(field)} != nil)`);
			}
			throw new QueryError(`expected a comparison operator (= != > >= < <= =~ !~) at ${where(opToken)}`);
		}
		this.#pos++;
		const operator = opToken.v as Operator;
		const value = this.#literal(field, operator);
		this.#check(field, operator, value);
		return { op: "cond", field, operator, value };
	}

	#field(): Field {
		const token = this.#peek();
		if (token.t !== "ident") {
			throw new QueryError(`expected an attribute (resource.x, span.x, .x) or an intrinsic (name, status, kind, duration, ...) at ${where(token)}`);
		}
		this.#pos++;
		return fieldOf(token.v, token);
	}

	#literal(field: Field, operator: Operator): Literal {
		const token = this.#peek();
		this.#pos++;
		const regex = operator === "=~" || operator === "!~";
		if (regex && token.t !== "string") throw new QueryError(`${operator} needs a quoted regular expression at ${where(token)}`);
		if (token.t === "string") return { type: "string", value: token.v };
		if (token.t === "number") return token.integer ? { type: "int", value: token.v } : { type: "float", value: token.v };
		if (token.t === "duration") return { type: "duration", value: token.v };
		if (token.t === "ident") {
			if (token.v === "true" || token.v === "false") return { type: "bool", value: token.v === "true" };
			if (token.v === "nil") return { type: "nil", value: null };
			if (field.kind === "intrinsic" && field.name === "status" && token.v in STATUS_KEYWORDS) return { type: "status", value: STATUS_KEYWORDS[token.v]! };
			if (field.kind === "intrinsic" && field.name === "kind" && token.v in KIND_KEYWORDS) return { type: "kind", value: KIND_KEYWORDS[token.v]! };
			if (token.v in STATUS_KEYWORDS) return { type: "status", value: STATUS_KEYWORDS[token.v]! };
			if (token.v in KIND_KEYWORDS) return { type: "kind", value: KIND_KEYWORDS[token.v]! };
			throw new QueryError(`unexpected '${token.v}' where a value belongs: quote strings, like "${token.v}"`);
		}
		if (token.t === "punct" && token.v === "-") {
			const next = this.#peek();
			this.#pos++;
			if (next.t === "number") return next.integer ? { type: "int", value: -next.v } : { type: "float", value: -next.v };
			if (next.t === "duration") return { type: "duration", value: -next.v };
			throw new QueryError(`expected a number after '-' at ${where(next)}`);
		}
		throw new QueryError(`expected a value (a quoted string, number, duration, true/false, nil, or a status/kind keyword) at ${where(token)}`);
	}

	/** Type errors Tempo also refuses, so a typo is a 400 rather than a search that finds nothing. */
	#check(field: Field, operator: Operator, value: Literal): void {
		const regex = operator === "=~" || operator === "!~";
		if (regex) {
			this.#regexInstructions += compileRegex(value.value as string).instructions;
			if (this.#regexInstructions > QUERY_MAX_REGEX_INSTRUCTIONS) throw new QueryError(`the query's regular expressions compile to more than ${QUERY_MAX_REGEX_INSTRUCTIONS} RE2 instructions together`);
		}
		if (value.type === "nil") {
			if (operator !== "=" && operator !== "!=") throw new QueryError(`${describeField(field)} ${operator} nil is not supported: use = nil or != nil`);
			return;
		}
		if (field.kind === "attribute") {
			if ((value.type === "bool" || value.type === "status" || value.type === "kind") && operator !== "=" && operator !== "!=") {
				throw new QueryError(`${describeField(field)} ${operator} ${value.type} is not supported: use = or !=`);
			}
			if (value.type === "status" || value.type === "kind") {
				const names = value.type === "status" ? STATUS_KEYWORDS : KIND_KEYWORDS;
				throw new QueryError(`${describeField(field)} is an attribute: quote the value ("${Object.keys(names).find((k) => names[k] === value.value)}")`);
			}
			return;
		}
		const name = field.name;
		const numeric = value.type === "int" || value.type === "float";
		const ok =
			name === "status" ? value.type === "status" || value.type === "int"
			: name === "kind" ? value.type === "kind" || value.type === "int"
			: name === "duration" || name === "traceDuration" ? value.type === "duration" || numeric
			: name === "nestedSetLeft" || name === "nestedSetRight" || name === "nestedSetParent" ? numeric
			: value.type === "string";
		if (!ok) {
			const wants =
				name === "status" ? "ok, error or unset"
				: name === "kind" ? "server, client, producer, consumer, internal or unspecified"
				: name === "duration" || name === "traceDuration" ? "a duration like 100ms"
				: name.startsWith("nestedSet") ? "an integer"
				: "a quoted string";
			throw new QueryError(`${name} compares with ${wants}`);
		}
		if ((name === "status" || name === "kind") && operator !== "=" && operator !== "!=") throw new QueryError(`${name} supports only = and !=`);
	}

	#stage(): Stage {
		const token = this.#peek();
		if (token.t !== "ident") throw new QueryError(`expected select(...), count(), avg(...) or a metrics function after '|' at ${where(token)}`);
		this.#pos++;
		if (token.v === "select") {
			this.#expectPunct("(", "expected '(' after select");
			const fields = this.#fieldList(true);
			this.#expectPunct(")", "expected ')' after select's fields");
			return { kind: "select", fields };
		}
		if (AGGREGATES.has(token.v)) {
			const fn = token.v as "count" | "avg" | "min" | "max" | "sum";
			this.#expectPunct("(", `expected '(' after ${fn}`);
			let field: Field | undefined;
			if (fn !== "count") field = this.#field();
			this.#expectPunct(")", `expected ')' after ${fn}(`);
			const opToken = this.#peek();
			if (opToken.t !== "punct" || !isOperator(opToken.v) || opToken.v === "=~" || opToken.v === "!~") {
				throw new QueryError(`${fn}() filters a spanset with a comparison, like | ${fn}(${field ? describeField(field) : ""}) > 2 (at ${where(opToken)})`);
			}
			this.#pos++;
			const value = this.#number(`${fn}() compares with a number or a duration`);
			return { kind: "aggregate", fn, field, operator: opToken.v as Operator, value };
		}
		if (token.v === "by" || token.v === "coalesce") throw new QueryError(`| ${token.v}(...) on spansets is not supported: group with by(...) after a metrics function, like | rate() by(resource.service.name)`);
		throw new QueryError(`unknown pipeline stage '${token.v}' at ${where(token)}: supported are select(...), count(), avg/min/max/sum(...) filters and the metrics functions`);
	}

	#fieldList(allowUnindexed: boolean): Field[] {
		const fields: Field[] = [];
		for (;;) {
			const token = this.#peek();
			if (token.t !== "ident") throw new QueryError(`expected an attribute or intrinsic at ${where(token)}`);
			this.#pos++;
			const field = allowUnindexed ? selectableField(token.v, token) : fieldOf(token.v, token);
			if (field) fields.push(field);
			if (!this.#isPunct(",")) return fields;
			this.#pos++;
		}
	}

	#metrics(): MetricsStage {
		const token = this.#peek();
		if (token.t !== "ident" || !METRICS_FUNCTIONS.has(token.v)) {
			if (token.t === "ident" && (token.v === "topk" || token.v === "bottomk")) throw new QueryError(`${token.v} must follow a metrics function, like | rate() | ${token.v}(5)`);
			throw new QueryError(`expected a metrics function (rate, count_over_time, ..., compare) at ${where(token)}`);
		}
		this.#pos++;
		const fn = token.v as MetricsFunction;
		this.#expectPunct("(", `expected '(' after ${fn}`);
		const stage: MetricsStage = { fn, quantiles: [], by: [] };
		switch (fn) {
			case "rate":
			case "count_over_time":
				break;
			case "compare":
				stage.compare = this.#compareArgs();
				break;
			default: {
				stage.field = this.#field();
				if (fn === "quantile_over_time") {
					while (this.#isPunct(",")) {
						this.#pos++;
						const q = this.#number("quantile_over_time takes quantiles between 0 and 1");
						if (!(q >= 0 && q <= 1)) throw new QueryError(`quantile ${q} is not between 0 and 1`);
						stage.quantiles.push(q);
					}
					if (stage.quantiles.length === 0) throw new QueryError("quantile_over_time needs at least one quantile, like quantile_over_time(duration, 0.9)");
				}
			}
		}
		this.#expectPunct(")", `expected ')' to close ${fn}(`);
		if (this.#isIdent("by")) {
			if (fn === "compare") throw new QueryError("compare() does not take by(...): it breaks down by every attribute");
			this.#pos++;
			this.#expectPunct("(", "expected '(' after by");
			stage.by = this.#fieldList(false);
			this.#expectPunct(")", "expected ')' after by's fields");
			const max = fn === "histogram_over_time" || fn === "quantile_over_time" ? MAX_BY_HISTOGRAM : MAX_BY;
			if (stage.by.length > max) throw new QueryError(`${fn} takes at most ${max} attributes in by(...)`);
		}
		const next = this.#peek();
		if (next.t === "punct" && ["=", "!=", ">", ">=", "<", "<=", "+", "-", "*", "/", "^", "%"].includes(next.v)) {
			throw new QueryError(`metric filters and arithmetic (${next.v} after ${fn}()) are not supported`);
		}
		return stage;
	}

	#compareArgs(): CompareArgs {
		const selection = this.#spanset(0);
		const args: CompareArgs = { selection, topN: 10 };
		if (!this.#isPunct(",")) return args;
		this.#pos++;
		const top = this.#number("compare's second argument is how many values to keep per attribute");
		if (!Number.isInteger(top) || top < 1 || top > MAX_COMPARE_TOP) throw new QueryError(`compare's top count must be an integer from 1 to ${MAX_COMPARE_TOP}`);
		args.topN = top;
		if (!this.#isPunct(",")) return args;
		this.#pos++;
		args.startNs = this.#nanoseconds();
		this.#expectPunct(",", "compare takes both a start and an end (unix nanoseconds), or neither");
		args.endNs = this.#nanoseconds();
		if (args.endNs <= args.startNs) throw new QueryError("compare's end must be after its start");
		return args;
	}

	#nanoseconds(): bigint {
		const token = this.#peek();
		if (token.t !== "number" || !token.integer) throw new QueryError(`compare's start and end are unix nanoseconds (integers) at ${where(token)}`);
		this.#pos++;
		const value = BigInt(token.raw);
		if (value <= 0n) throw new QueryError("compare's start and end must be positive");
		return value;
	}

	#rank(): { op: "topk" | "bottomk"; k: number } {
		const token = this.#peek();
		if (token.t !== "ident" || (token.v !== "topk" && token.v !== "bottomk")) throw new QueryError(`only topk(k) or bottomk(k) may follow a metrics function (at ${where(token)})`);
		this.#pos++;
		this.#expectPunct("(", `expected '(' after ${token.v}`);
		const k = this.#number(`${token.v} takes a count`);
		if (!Number.isInteger(k) || k < 1 || k > 10_000) throw new QueryError(`${token.v}'s count must be an integer from 1 to 10000`);
		this.#expectPunct(")", `expected ')' after ${token.v}(k`);
		return { op: token.v, k };
	}

	/** `with(name=value, ...)`: Tempo's hints. Every hint parses; sample=true is answered exactly. */
	#hints(): Record<string, HintValue> {
		this.#pos++;
		this.#expectPunct("(", "expected '(' after with");
		const hints: Record<string, HintValue> = {};
		for (;;) {
			const name = this.#peek();
			if (name.t !== "ident") throw new QueryError(`expected a hint name, like with(sample=true), at ${where(name)}`);
			this.#pos++;
			this.#expectPunct("=", `expected '=' after the hint ${name.v}`);
			const value = this.#peek();
			this.#pos++;
			if (value.t === "ident" && (value.v === "true" || value.v === "false")) hints[name.v] = value.v === "true";
			else if (value.t === "number" || value.t === "duration") hints[name.v] = value.v;
			else if (value.t === "string") hints[name.v] = value.v;
			else throw new QueryError(`expected a value for the hint ${name.v} at ${where(value)}`);
			if (!this.#isPunct(",")) break;
			this.#pos++;
		}
		this.#expectPunct(")", "expected ')' to close with(");
		return hints;
	}

	#number(message: string): number {
		let sign = 1;
		if (this.#isPunct("-")) {
			this.#pos++;
			sign = -1;
		}
		const token = this.#peek();
		if (token.t !== "number" && token.t !== "duration") throw new QueryError(`${message} (at ${where(token)})`);
		this.#pos++;
		return sign * token.v;
	}

	#peek(): Token {
		return this.tokens[this.#pos] ?? this.tokens[this.tokens.length - 1]!;
	}

	#peekAt(offset: number): Token {
		return this.tokens[this.#pos + offset] ?? this.tokens[this.tokens.length - 1]!;
	}

	#isPunct(v: string): boolean {
		const token = this.#peek();
		return token.t === "punct" && token.v === v;
	}

	#isIdent(v: string): boolean {
		const token = this.#peek();
		return token.t === "ident" && token.v === v;
	}

	#expectPunct(v: string, message: string): void {
		if (!this.#isPunct(v)) throw new QueryError(`${message} (at ${where(this.#peek())})`);
		this.#pos++;
	}
}

/** An attribute or intrinsic by its TraceQL name. */
function fieldOf(name: string, token: Token): Field {
	if (name.startsWith(".")) return attribute("any", name.slice(1), token);
	const intrinsic = INTRINSIC_NAMES[name];
	if (intrinsic) return { kind: "intrinsic", name: intrinsic };
	const dot = name.indexOf(".");
	if (dot > 0) {
		const scope = name.slice(0, dot);
		const key = name.slice(dot + 1);
		if (scope === "resource" || scope === "span") return attribute(scope, key, token);
		if (scope === "event" || scope === "link" || scope === "instrumentation") {
			throw new QueryError(`${scope} attributes are not supported in conditions: the index holds resource and span attributes`);
		}
		if (scope === "parent") throw new QueryError("parent. attributes are not supported: use a structural operator, like {parent condition} > {child condition}");
		throw new QueryError(`unknown attribute scope '${scope}': use resource., span. or a leading . for either`);
	}
	if (UNSUPPORTED_INTRINSICS.has(name)) throw new QueryError(`the intrinsic ${name} is not supported`);
	if (name === "true" || name === "false" || name === "nil") throw new QueryError(`expected an attribute or intrinsic before ${name}`);
	throw new QueryError(`unknown intrinsic '${name}': attributes need a scope (resource.${name}, span.${name} or .${name})`);
}

/**
 * A field named in select(...). The Drilldown's exceptions tab selects `event.exception.*`; the
 * index holds no events, so such a field is accepted and returns nothing rather than failing the tab.
 */
function selectableField(name: string, token: Token): Field | undefined {
	if (/^(event|link|instrumentation)[.:]/.test(name) || UNSUPPORTED_INTRINSICS.has(name)) return undefined;
	return fieldOf(name, token);
}

function attribute(scope: Scope, key: string, token: Token): Field {
	if (key === "") throw new QueryError(`attribute name missing at ${where(token)}`);
	return { kind: "attribute", scope, key };
}

function trailingMessage(token: Token, afterMetrics: boolean): string {
	if (token.t === "punct" && token.v === "|" && afterMetrics) return "only topk(k) or bottomk(k) may follow a metrics function, once";
	if (token.t === "punct" && token.v === ")") return `unbalanced ')' at ${where(token)}`;
	return `unexpected ${where(token)}: expected the end of the query, '|' and a stage, or with(...)`;
}

export function describeField(field: Field): string {
	if (field.kind === "intrinsic") return field.name;
	return field.scope === "any" ? `.${field.key}` : `${field.scope}.${field.key}`;
}

function isOperator(v: string): boolean {
	return v === "=" || v === "!=" || v === ">" || v === ">=" || v === "<" || v === "<=" || v === "=~" || v === "!~";
}

/** Whether a query narrows anything: `{}` (and `{true}`) does not. */
export function narrows(query: Query): boolean {
	const source = query.pipeline.source;
	if (query.pipeline.stages.some((s) => s.kind === "aggregate")) return true;
	return !(source.kind === "filter" && (source.filter === undefined || (source.filter.op === "static" && source.filter.value)));
}
