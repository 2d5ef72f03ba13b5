// TraceQL regular expressions (`=~`, `!~`) on a linear-time engine. Tempo uses Go's RE2, so RE2
// syntax and semantics are the contract: fully anchored, `(?i)`, `(?P<name>...)`, no
// backreferences or lookaround. re2js (a JavaScript port of RE2) matches in time linear in the
// value's length times the compiled program's size, so no pattern can backtrack exponentially;
// what remains is bounding those two factors and the total work of one query.
import { RE2JS } from "re2js";
import { BUDGET_MESSAGE, QueryError } from "./errors";

/** Longest pattern text accepted. */
export const REGEX_MAX_CHARS = 1_024;
/**
 * Largest compiled program (RE2 instructions) of one pattern. Counted repetitions expand:
 * `(.{0,20}){0,20}` is 860 instructions (3–18 ms per 1 KB value, measured), `.{0,1000}.{0,1000}`
 * 4,000 (≈ 0.2 s per value); ordinary patterns are under 100. The cap keeps one comparison of a
 * 1 KB value well under a millisecond.
 */
export const REGEX_MAX_INSTRUCTIONS = 250;
/** Instructions of all patterns of one query together (each is compiled and matched per value). */
export const QUERY_MAX_REGEX_INSTRUCTIONS = 1_000;
/**
 * A value is matched on at most this many characters (the index keeps values cut to 1,024 too):
 * the cap on the value length matched.
 */
export const REGEX_MAX_VALUE_CHARS = 1_024;
/**
 * Work one query's regular expressions may do in one evaluation, in instruction × character
 * steps (3.5–20 ns each, measured): well under a second of CPU. Counted in steps rather than read from
 * a clock because a deployed Worker's clock stands still while it computes (it moves only at I/O),
 * so elapsed time cannot be observed inside a synchronous scan.
 */
export const REGEX_WORK_BUDGET = 100_000_000;

export class RegexBudgetError extends QueryError {
	override name = "RegexBudgetError";
}


export interface CompiledRegex {
	source: string;
	instructions: number;
	test(value: string): boolean;
}

const cache = new Map<string, CompiledRegex>();
const CACHE_SIZE = 256;

/** Compiles a TraceQL pattern, or raises a QueryError that says why it is refused. */
export function compileRegex(source: string): CompiledRegex {
	const known = cache.get(source);
	if (known) return known;
	if (source.length > REGEX_MAX_CHARS) throw new QueryError(`regular expression longer than ${REGEX_MAX_CHARS} characters`);
	let re: RE2JS;
	try {
		re = RE2JS.compile(source);
	} catch (e) {
		throw new QueryError(`invalid regular expression ${JSON.stringify(source.slice(0, 200))} (RE2 syntax): ${e instanceof Error ? e.message : String(e)}`);
	}
	const instructions = programSize(re);
	if (instructions > REGEX_MAX_INSTRUCTIONS) {
		throw new QueryError(
			`regular expression ${JSON.stringify(source.slice(0, 200))} compiles to ${instructions} RE2 instructions, more than ${REGEX_MAX_INSTRUCTIONS}: ` +
				"large counted repetitions like .{0,1000} expand; use * or a smaller count",
		);
	}
	const compiled: CompiledRegex = { source, instructions, test: (value) => re.matches(value) };
	if (cache.size >= CACHE_SIZE) cache.delete(cache.keys().next().value!);
	cache.set(source, compiled);
	return compiled;
}

/** RE2's instruction count; re2js exposes it only on its internal program, so read it defensively. */
function programSize(re: RE2JS): number {
	const internal = re as unknown as { re2Input?: { prog?: { numInst?: () => number } } };
	const count = internal.re2Input?.prog?.numInst?.();
	// Without the count, the pattern's length is a lower bound that still refuses nothing valid.
	return typeof count === "number" ? count : re.pattern().length;
}

/**
 * The work meter of one evaluation of one query. A partition scans its rows synchronously, so one
 * evaluation is one uninterrupted run of JavaScript: the meter restarts in the first microtask
 * after it (which only runs once the scan has returned or awaited).
 */
export class RegexBudget {
	#used = 0;
	#armed = false;

	charge(instructions: number, chars: number): void {
		if (!this.#armed) {
			this.#armed = true;
			queueMicrotask(() => {
				this.#used = 0;
				this.#armed = false;
			});
		}
		this.#used += instructions * (chars + 1);
		if (this.#used > REGEX_WORK_BUDGET) {
			throw new RegexBudgetError(`${BUDGET_MESSAGE} (${REGEX_WORK_BUDGET.toLocaleString("en")} steps): narrow the query with other conditions or a shorter time range, or simplify the pattern`);
		}
	}
}

/** A regex test that charges `budget` and matches at most REGEX_MAX_VALUE_CHARS of the value. */
export function budgetedTest(regex: CompiledRegex, budget: RegexBudget): (value: string) => boolean {
	return (value) => {
		const cut = value.length > REGEX_MAX_VALUE_CHARS ? value.slice(0, REGEX_MAX_VALUE_CHARS) : value;
		budget.charge(regex.instructions, cut.length);
		return regex.test(cut);
	};
}
