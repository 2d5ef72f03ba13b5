// Tokens of TraceQL text. Punctuation is read longest first, so `&>>` is one token and `&&` is not
// `&` `&`; whether `>` or `!~` is a comparison or a structural operator is the parser's call (it
// depends on being inside braces or between spansets).
import { QueryError } from "./errors";

export type Token =
	| { t: "punct"; v: string; at: number }
	| { t: "ident"; v: string; at: number }
	| { t: "string"; v: string; at: number }
	/** `raw` keeps every digit: compare()'s nanosecond bounds exceed a double's exact range. */
	| { t: "number"; v: number; raw: string; integer: boolean; at: number }
	| { t: "duration"; v: number; at: number }
	| { t: "end"; at: number };

const DURATION_UNITS: Record<string, number> = { ns: 1, us: 1e3, "µs": 1e3, ms: 1e6, s: 1e9, m: 60e9, h: 3600e9 };

const PUNCTUATION = ["!>>", "!<<", "&>>", "&<<", "&&", "||", "!=", ">=", "<=", "=~", "!~", ">>", "<<", "!>", "!<", "&>", "&<", "&~", "{", "}", "(", ")", "=", ">", "<", "|", "~", "-", ",", "!", "+", "*", "/", "%", "^", "[", "]"];

export function tokenize(text: string): Token[] {
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
			// Durations may chain units, as Go writes them: 1m30s, 1h2m.
			let unit = "";
			while (i < text.length && /[a-zµ]/i.test(text[i]!)) unit += text[i++];
			if (unit) {
				let ns = durationPart(digits, unit, start);
				while (i < text.length && isDigit(text[i]!)) {
					const partStart = i;
					while (i < text.length && (isDigit(text[i]!) || text[i] === ".")) i++;
					const more = text.slice(partStart, i);
					let moreUnit = "";
					while (i < text.length && /[a-zµ]/i.test(text[i]!)) moreUnit += text[i++];
					if (!moreUnit) throw new QueryError(`malformed duration at character ${start + 1}: every number needs a unit`);
					ns += durationPart(more, moreUnit, partStart);
				}
				tokens.push({ t: "duration", v: ns, at: start });
			} else {
				const value = Number(digits);
				if (!Number.isFinite(value)) throw new QueryError(`number out of range at character ${start + 1}`);
				tokens.push({ t: "number", v: value, raw: digits, integer: /^\d+$/.test(digits), at: start });
			}
			continue;
		}
		if (isIdentStart(c)) {
			const start = i;
			i++;
			while (i < text.length && isIdentPart(text[i]!)) i++;
			// A colon form, like span:name or trace:rootService.
			if (text[i] === ":" && isIdentStart(text[i + 1] ?? "")) {
				i++;
				while (i < text.length && isIdentPart(text[i]!)) i++;
			}
			let name = text.slice(start, i);
			// A quoted attribute name, for keys TraceQL's bare syntax cannot spell: span."a b", ."x=y".
			if (name.endsWith(".") && text[i] === '"') {
				const [key, next] = readString(text, i);
				name += key;
				i = next;
			}
			tokens.push({ t: "ident", v: name, at: start });
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

function durationPart(digits: string, unit: string, at: number): number {
	const factor = DURATION_UNITS[unit];
	if (factor === undefined) throw new QueryError(`unknown duration unit '${unit}' at character ${at + 1}: use ns, us, µs, ms, s, m or h`);
	return Math.round(Number(digits) * factor);
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

export function describeToken(token: Token): string {
	switch (token.t) {
		case "punct":
		case "ident":
			return `'${token.v}'`;
		case "string":
			return "a string";
		case "number":
		case "duration":
			return "a number";
		case "end":
			return "the end";
	}
}

export function where(token: Token): string {
	return token.t === "end" ? "the end of the query" : `character ${token.at + 1} (${describeToken(token)})`;
}
