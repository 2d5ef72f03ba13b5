// The TraceQL subset that Grafana's Search builder writes: one spanset `{ ... }` of conditions
// joined by `&&` and `||`, with parentheses. Parsing never throws: it returns a typed query or a
// QueryError whose message the HTTP edge sends with a 400. Anything beyond the subset (several
// spansets, structural operators, pipelines, aggregates, metrics) is refused with a message that
// names what is not supported.

export type Scope = "resource" | "span" | "any";

export type Intrinsic = "name" | "status" | "statusMessage" | "kind" | "duration" | "traceDuration" | "rootName" | "rootServiceName";

/** What a condition tests: an attribute in a scope, or an intrinsic field of the span or trace. */
export type Field = { kind: "attribute"; scope: Scope; key: string } | { kind: "intrinsic"; name: Intrinsic };

export type Operator = "=" | "!=" | ">" | ">=" | "<" | "<=" | "=~" | "!~";

export type Literal =
	| { type: "string"; value: string }
	| { type: "int"; value: number }
	| { type: "float"; value: number }
	| { type: "bool"; value: boolean }
	/** Nanoseconds. */
	| { type: "duration"; value: number }
	/** 0 unset, 1 ok, 2 error (OTLP Status.code). */
	| { type: "status"; value: number }
	/** OTLP Span.kind: 0 unspecified, 1 internal, 2 server, 3 client, 4 producer, 5 consumer. */
	| { type: "kind"; value: number };

export interface Condition {
	op: "cond";
	field: Field;
	operator: Operator;
	value: Literal;
}

export type Expr = Condition | { op: "and" | "or"; left: Expr; right: Expr };

/** `{}` has no filter: every span of every trace matches. */
export interface Query {
	filter: Expr | undefined;
}

export class QueryError extends Error {
	override name = "QueryError";
}

export type ParseResult = { ok: true; query: Query } | { ok: false; error: QueryError };

/** Longest query text accepted; Grafana's builder writes a few hundred characters at most. */
export const MAX_QUERY_LENGTH = 8192;
/** Conditions in one query: each becomes a bounded amount of work per span, and SQL parameters. */
export const MAX_CONDITIONS = 32;
const MAX_DEPTH = 32;

export const STATUS_KEYWORDS: Record<string, number> = { unset: 0, ok: 1, error: 2 };
export const KIND_KEYWORDS: Record<string, number> = { unspecified: 0, internal: 1, server: 2, client: 3, producer: 4, consumer: 5 };

const INTRINSICS: Record<string, Intrinsic> = {
	name: "name",
	status: "status",
	statusMessage: "statusMessage",
	kind: "kind",
	duration: "duration",
	traceDuration: "traceDuration",
	rootName: "rootName",
	rootServiceName: "rootServiceName",
	"span:name": "name",
	"span:status": "status",
	"span:statusMessage": "statusMessage",
	"span:kind": "kind",
	"span:duration": "duration",
	"trace:duration": "traceDuration",
	"trace:rootName": "rootName",
	"trace:rootService": "rootServiceName",
};

/** Intrinsics Tempo knows that this subset does not index. */
const UNSUPPORTED_INTRINSICS = new Set(["parent", "childCount", "nestedSetLeft", "nestedSetRight", "nestedSetParent", "event:name", "event:timeSinceStart", "link:traceID", "link:spanID", "instrumentation:name", "instrumentation:version", "span:id", "trace:id", "span:parentID", "span:childCount", "id", "traceID", "spanID"]);

const DURATION_UNITS: Record<string, number> = { ns: 1, us: 1e3, "µs": 1e3, ms: 1e6, s: 1e9, m: 60e9, h: 3600e9 };

type Token =
	| { t: "punct"; v: string; at: number }
	| { t: "ident"; v: string; at: number }
	| { t: "string"; v: string; at: number }
	| { t: "number"; v: number; integer: boolean; at: number }
	| { t: "duration"; v: number; at: number }
	| { t: "end"; at: number };

export function parseTraceQL(text: string): ParseResult {
	try {
		return { ok: true, query: parse(text) };
	} catch (e) {
		if (e instanceof QueryError) return { ok: false, error: e };
		// A bug here must still be a 400 with a message, never a 500.
		return { ok: false, error: new QueryError(`could not parse the query: ${e instanceof Error ? e.message : String(e)}`) };
	}
}

function parse(text: string): Query {
	if (text.length > MAX_QUERY_LENGTH) throw new QueryError(`query is longer than ${MAX_QUERY_LENGTH} characters`);
	if (text.trim() === "") return { filter: undefined };
	const tokens = tokenize(text);
	const parser = new Parser(tokens);
	return parser.query();
}

class Parser {
	#pos = 0;
	#conditions = 0;
	constructor(readonly tokens: Token[]) {}

	query(): Query {
		this.#expectPunct("{", "a TraceQL query is one spanset in braces, like {} or {resource.service.name=\"frontend\"}");
		let filter: Expr | undefined;
		if (!this.#isPunct("}")) filter = this.#or(0);
		this.#expectPunct("}", "expected '}' or '&&' / '||' between conditions");
		const next = this.#peek();
		if (next.t !== "end") throw new QueryError(trailingMessage(next));
		return { filter };
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
		if (this.#isPunct("{")) throw new QueryError("nested spansets are not supported: write one spanset, {...}");
		return this.#condition();
	}

	#condition(): Condition {
		if (++this.#conditions > MAX_CONDITIONS) throw new QueryError(`more than ${MAX_CONDITIONS} conditions in one query`);
		const field = this.#field();
		const opToken = this.#peek();
		if (opToken.t !== "punct" || !isOperator(opToken.v)) {
			if (opToken.t === "punct" && (opToken.v === "}" || opToken.v === "&&" || opToken.v === "||" || opToken.v === ")")) {
				throw new QueryError(`a condition needs an operator and a value: ${describeField(field)} alone is not supported (write e.g. ${describeField(field)} != nil as a comparison)`);
			}
			throw new QueryError(`expected a comparison operator (= != > >= < <= =~ !~) at ${where(opToken)}`);
		}
		this.#pos++;
		const operator = opToken.v as Operator;
		const value = this.#literal(field, operator);
		checkCondition(field, operator, value);
		return { op: "cond", field, operator, value };
	}

	#field(): Field {
		const token = this.#peek();
		if (token.t !== "ident") {
			throw new QueryError(`expected an attribute (resource.x, span.x, .x) or an intrinsic (name, status, kind, duration, ...) at ${where(token)}`);
		}
		this.#pos++;
		const name = token.v;
		if (name.startsWith(".")) return attribute("any", name.slice(1), token);
		const dot = name.indexOf(".");
		if (dot > 0) {
			const scope = name.slice(0, dot);
			const key = name.slice(dot + 1);
			if (scope === "resource" || scope === "span") return attribute(scope, key, token);
			if (scope === "event" || scope === "link" || scope === "instrumentation") {
				throw new QueryError(`${scope} attributes are not supported: search indexes resource and span attributes`);
			}
			if (scope === "parent") throw new QueryError("parent. attributes (structural queries) are not supported");
			throw new QueryError(`unknown attribute scope '${scope}': use resource., span. or a leading . for either`);
		}
		const intrinsic = INTRINSICS[name];
		if (intrinsic) return { kind: "intrinsic", name: intrinsic };
		if (UNSUPPORTED_INTRINSICS.has(name)) throw new QueryError(`the intrinsic ${name} is not supported`);
		if (name === "true" || name === "false" || name === "nil") throw new QueryError(`expected an attribute or intrinsic before ${name}`);
		throw new QueryError(`unknown intrinsic '${name}': attributes need a scope (resource.${name}, span.${name} or .${name})`);
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
			if (token.v === "nil") throw new QueryError("comparisons with nil are not supported");
			if (field.kind === "intrinsic" && field.name === "status" && token.v in STATUS_KEYWORDS) return { type: "status", value: STATUS_KEYWORDS[token.v]! };
			if (field.kind === "intrinsic" && field.name === "kind" && token.v in KIND_KEYWORDS) return { type: "kind", value: KIND_KEYWORDS[token.v]! };
			if (token.v in STATUS_KEYWORDS || token.v in KIND_KEYWORDS) return token.v in STATUS_KEYWORDS ? { type: "status", value: STATUS_KEYWORDS[token.v]! } : { type: "kind", value: KIND_KEYWORDS[token.v]! };
			throw new QueryError(`unexpected '${token.v}' where a value belongs: quote strings, like "${token.v}"`);
		}
		if (token.t === "punct" && token.v === "-") {
			const next = this.#peek();
			this.#pos++;
			if (next.t === "number") return next.integer ? { type: "int", value: -next.v } : { type: "float", value: -next.v };
			if (next.t === "duration") return { type: "duration", value: -next.v };
			throw new QueryError(`expected a number after '-' at ${where(next)}`);
		}
		throw new QueryError(`expected a value (a quoted string, number, duration, true/false, or a status/kind keyword) at ${where(token)}`);
	}

	#peek(): Token {
		return this.tokens[this.#pos] ?? this.tokens[this.tokens.length - 1]!;
	}

	#isPunct(v: string): boolean {
		const token = this.#peek();
		return token.t === "punct" && token.v === v;
	}

	#expectPunct(v: string, message: string): void {
		if (!this.#isPunct(v)) throw new QueryError(`${message} (at ${where(this.#peek())})`);
		this.#pos++;
	}
}

/** Type errors Tempo also refuses, so a typo is a 400 rather than a search that finds nothing. */
function checkCondition(field: Field, operator: Operator, value: Literal): void {
	const regex = operator === "=~" || operator === "!~";
	if (regex) compileRegex(value.value as string);
	if (field.kind === "attribute") {
		if ((value.type === "bool" || value.type === "status" || value.type === "kind") && operator !== "=" && operator !== "!=") {
			throw new QueryError(`${describeField(field)} ${operator} ${value.type} is not supported: use = or !=`);
		}
		if (value.type === "status" || value.type === "kind") throw new QueryError(`${describeField(field)} is an attribute: quote the value ("${Object.entries(value.type === "status" ? STATUS_KEYWORDS : KIND_KEYWORDS).find(([, n]) => n === value.value)?.[0]}")`);
		return;
	}
	const name = field.name;
	const ok =
		name === "status" ? value.type === "status" || value.type === "int"
		: name === "kind" ? value.type === "kind" || value.type === "int"
		: name === "duration" || name === "traceDuration" ? value.type === "duration" || value.type === "int" || value.type === "float"
		: value.type === "string";
	if (!ok) {
		const wants = name === "status" ? "ok, error or unset" : name === "kind" ? "server, client, producer, consumer, internal or unspecified" : name === "duration" || name === "traceDuration" ? "a duration like 100ms" : "a quoted string";
		throw new QueryError(`${name} compares with ${wants}`);
	}
	if ((name === "status" || name === "kind") && operator !== "=" && operator !== "!=") throw new QueryError(`${name} supports only = and !=`);
}

/**
 * A TraceQL regular expression (RE2 syntax, fully anchored) as a JavaScript RegExp. RE2's
 * `(?P<name>` groups and a leading `(?i)` are translated; anything JavaScript cannot compile is a
 * QueryError.
 */
export function compileRegex(source: string): RegExp {
	if (source.length > 1024) throw new QueryError("regular expression longer than 1024 characters");
	let flags = "";
	let body = source.replaceAll("(?P<", "(?<");
	if (body.startsWith("(?i)")) {
		flags = "i";
		body = body.slice(4);
	}
	let regex: RegExp;
	try {
		regex = new RegExp(`^(?:${body})$`, flags);
	} catch (e) {
		throw new QueryError(`invalid regular expression ${JSON.stringify(source)}: ${e instanceof Error ? e.message : String(e)}`);
	}
	const hazard = backtrackingHazard(body);
	if (hazard === "nested") {
		throw new QueryError(
			`regular expression ${JSON.stringify(source)} repeats a group that itself repeats or has alternatives, like (a+)+ or (a|b)*: ` +
				"JavaScript's backtracking engine can take exponential time on that; write it without the outer repetition (e.g. [ab]* for (a|b)*)",
		);
	}
	if (hazard === "unbounded") {
		throw new QueryError(
			`regular expression ${JSON.stringify(source)} has more than ${MAX_UNBOUNDED_REPEATS} unbounded repetitions (*, +, {n,}): ` +
				"JavaScript's backtracking engine can take time growing with the value's length to that power; use fewer, e.g. .*a.*b rather than .*a.*b.*c.*d",
		);
	}
	return regex;
}

/**
 * Four unbounded repetitions (.*e.*e.*e.*x) take seconds per 1 KB value that almost matches
 * (a SQL statement), and a search matches thousands of values; three stay in milliseconds.
 */
const MAX_UNBOUNDED_REPEATS = 3;

/**
 * The shapes on which JavaScript's backtracking RegExp can take exponential or high polynomial
 * time on a value that almost matches, so that the partition evaluating a search would hang. RE2
 * (Tempo) is linear and accepts them. "nested": a repetition (*, +, {n,}, {n,m} with m > 1) of a
 * group containing another quantifier or an alternation ((a+)+, (\w|\d)*: exponential on a
 * 30-character value). "unbounded": more than MAX_UNBOUNDED_REPEATS of *, + and {n,}.
 */
function backtrackingHazard(body: string): "nested" | "unbounded" | undefined {
	const groups: boolean[] = [false];
	let unbounded = 0;
	let i = 0;
	const markOuter = () => {
		groups[groups.length - 1] = true;
	};
	while (i < body.length) {
		const c = body[i]!;
		if (c === "\\") {
			i += 2;
		} else if (c === "[") {
			// A class is one atom: skip to its closing bracket (a leading ] or ^] is literal).
			i++;
			if (body[i] === "^") i++;
			if (body[i] === "]") i++;
			while (i < body.length && body[i] !== "]") i += body[i] === "\\" ? 2 : 1;
			i++;
		} else if (c === "(") {
			groups.push(false);
			i++;
			// (?:, (?<name>, (?P<name>, (?=, (?!, (?i) ...: the marker is not a quantifier.
			if (body[i] === "?") {
				i++;
				if (body[i] === "<" && body[i + 1] !== "=" && body[i + 1] !== "!") i = body.indexOf(">", i) + 1 || body.length;
				else while (i < body.length && /[:=!<a-zA-Z-]/.test(body[i]!)) i++;
			}
		} else if (c === ")") {
			const inner = groups.length > 1 ? groups.pop()! : false;
			i++;
			const quantifier = /^(?:[*+?]|\{(\d+)(?:(,)(\d*))?\})/.exec(body.slice(i));
			if (quantifier) {
				const [, , comma, max] = quantifier;
				const repeats = quantifier[0] !== "?" && (quantifier[0].length === 1 || (comma !== undefined && (max === "" || Number(max) > 1)));
				if (repeats && inner) return "nested";
				if (quantifier[0] === "*" || quantifier[0] === "+" || max === "") unbounded++;
				i += quantifier[0].length;
				markOuter();
			}
			if (inner) markOuter();
		} else if (c === "|" || c === "*" || c === "+" || c === "?") {
			// A ? right after a quantifier makes it lazy: no repetition of its own.
			if ((c === "*" || c === "+") && !"*+?}".includes(body[i - 1] ?? "")) unbounded++;
			markOuter();
			i++;
		} else if (c === "{" && /^\{\d+(?:,\d*)?\}/.test(body.slice(i))) {
			if (/^\{\d+,\}/.test(body.slice(i))) unbounded++;
			markOuter();
			i++;
		} else {
			i++;
		}
	}
	return unbounded > MAX_UNBOUNDED_REPEATS ? "unbounded" : undefined;
}

function attribute(scope: Scope, key: string, token: Token): Field {
	if (key === "") throw new QueryError(`attribute name missing at ${where(token)}`);
	return { kind: "attribute", scope, key };
}

function trailingMessage(token: Token): string {
	if (token.t === "punct") {
		if (token.v === "|") return "pipelines (| count(), | rate(), | select(), by(), ...) are not supported: search takes one spanset, {...}";
		if (token.v === "&&" || token.v === "||") return "combining spansets with && or || is not supported: put all conditions in one spanset, {a && b}";
		if ([">>", "<<", ">", "<", "~", "!>>", "!<<", "!>", "!<", "!~", "&>>", "&<<", "&>", "&<", "&~"].includes(token.v)) {
			return `structural operators (${token.v}) are not supported: search takes one spanset, {...}`;
		}
	}
	return `unexpected ${describe(token)} after the spanset at ${where(token)}: search takes one spanset, {...}`;
}

function describe(token: Token): string {
	switch (token.t) {
		case "end":
			return "end of query";
		case "string":
			return "string";
		case "number":
		case "duration":
			return "number";
		default:
			return `'${token.v}'`;
	}
}

function describeField(field: Field): string {
	if (field.kind === "intrinsic") return field.name;
	return field.scope === "any" ? `.${field.key}` : `${field.scope}.${field.key}`;
}

function where(token: Token): string {
	return token.t === "end" ? "the end of the query" : `character ${token.at + 1} (${describe(token)})`;
}

function isOperator(v: string): boolean {
	return v === "=" || v === "!=" || v === ">" || v === ">=" || v === "<" || v === "<=" || v === "=~" || v === "!~";
}

// Longest first, so `&&` is not read as `&` `&`.
const PUNCTUATION = ["!>>", "!<<", "&>>", "&<<", "&&", "||", "!=", ">=", "<=", "=~", "!~", ">>", "<<", "!>", "!<", "&>", "&<", "&~", "{", "}", "(", ")", "=", ">", "<", "|", "~", "-", ",", "!", "+", "*", "/", "%", "^", "[", "]"];

function tokenize(text: string): Token[] {
	const tokens: Token[] = [];
	let i = 0;
	while (i < text.length) {
		const c = text[i]!;
		if (c === " " || c === "\t" || c === "\n" || c === "\r") {
			i++;
			continue;
		}
		if (c === '"' || c === "`") {
			const [value, next] = readString(text, i);
			tokens.push({ t: "string", v: value, at: i });
			i = next;
			continue;
		}
		if (isDigit(c) || (c === "." && isDigit(text[i + 1] ?? ""))) {
			const start = i;
			while (i < text.length && (isDigit(text[i]!) || text[i] === ".")) i++;
			const digits = text.slice(start, i);
			if (!/^(\d+\.?\d*|\.\d+)$/.test(digits)) throw new QueryError(`malformed number '${digits}' at character ${start + 1}`);
			let unit = "";
			while (i < text.length && /[a-zµ]/i.test(text[i]!)) unit += text[i++];
			if (unit) {
				const factor = DURATION_UNITS[unit];
				if (factor === undefined) throw new QueryError(`unknown duration unit '${unit}' at character ${start + 1}: use ns, us, µs, ms, s, m or h`);
				tokens.push({ t: "duration", v: Math.round(Number(digits) * factor), at: start });
			} else {
				const value = Number(digits);
				if (!Number.isFinite(value)) throw new QueryError(`number out of range at character ${start + 1}`);
				tokens.push({ t: "number", v: value, integer: /^\d+$/.test(digits), at: start });
			}
			continue;
		}
		if (isIdentStart(c)) {
			const start = i;
			i++;
			while (i < text.length && isIdentPart(text[i]!)) i++;
			// A trailing colon form, like span:name or trace:rootService.
			if (text[i] === ":" && isIdentStart(text[i + 1] ?? "")) {
				i++;
				while (i < text.length && isIdentPart(text[i]!)) i++;
			}
			tokens.push({ t: "ident", v: text.slice(start, i), at: start });
			continue;
		}
		const punct = PUNCTUATION.find((p) => text.startsWith(p, i));
		if (punct) {
			tokens.push({ t: "punct", v: punct, at: i });
			i += punct.length;
			continue;
		}
		throw new QueryError(`unexpected character ${JSON.stringify(c)} at character ${i + 1}`);
	}
	tokens.push({ t: "end", at: text.length });
	return tokens;
}

function readString(text: string, start: number): [string, number] {
	const quote = text[start]!;
	let i = start + 1;
	let out = "";
	while (i < text.length) {
		const c = text[i]!;
		if (c === quote) return [out, i + 1];
		if (c === "\\" && quote === '"') {
			const next = text[i + 1];
			if (next === undefined) break;
			const escaped = ESCAPES[next];
			if (escaped === undefined) throw new QueryError(`unknown escape \\${next} in a string at character ${i + 1}: use \\" \\\\ \\n \\t`);
			out += escaped;
			i += 2;
			continue;
		}
		out += c;
		i++;
	}
	throw new QueryError(`unterminated string starting at character ${start + 1}`);
}

const ESCAPES: Record<string, string> = { '"': '"', "\\": "\\", n: "\n", t: "\t", r: "\r", "'": "'" };

function isDigit(c: string): boolean {
	return c >= "0" && c <= "9";
}

function isIdentStart(c: string): boolean {
	return /[A-Za-z_.]/.test(c);
}

/** Attribute names may hold dots, dashes, slashes and digits (`http.response.status_code`, `k8s.pod-name`). */
function isIdentPart(c: string): boolean {
	return /[A-Za-z0-9_.\-/@$#]/.test(c);
}
