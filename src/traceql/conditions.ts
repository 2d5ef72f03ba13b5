// The exact test of one spanset's conditions on one span of an entry. Tempo's rules: a comparison
// with a field the span does not have is false (also for != and !~); a string compares with
// strings, a number with ints, doubles and durations (as nanoseconds), and so on.
import type { TraceEntry } from "../search/entry";
import { VALUE_MAX_CHARS } from "../search/entry";
import type { Condition, Expr, Literal } from "./ast";
import { budgetedTest, compileRegex, type RegexBudget } from "./regex";
import { valuesOf, type ValueKind } from "./values";

/** Whether span `index` of the entry satisfies the expression. */
export type SpanTest = (entry: TraceEntry, index: number) => boolean;

export function testOf(expr: Expr | undefined, budget: RegexBudget): SpanTest {
	if (expr === undefined) return () => true;
	if (expr.op === "static") return expr.value ? () => true : () => false;
	if (expr.op === "cond") return conditionTest(expr, budget);
	const left = testOf(expr.left, budget);
	const right = testOf(expr.right, budget);
	if (expr.op === "and") return (entry, i) => left(entry, i) && right(entry, i);
	return (entry, i) => left(entry, i) || right(entry, i);
}

function conditionTest(condition: Condition, budget: RegexBudget): SpanTest {
	const { field, operator, value } = condition;
	// The Drilldown's root test, `nestedSetParent<0`, needs no tree: a root is a span without a parent id.
	if (field.kind === "intrinsic" && field.name === "nestedSetParent" && operator === "<" && value.type === "int" && value.value === 0) {
		return (entry, i) => entry.spans[i]![9] === "";
	}
	if (value.type === "nil") {
		const wantPresent = operator === "!=";
		return (entry, i) => (valuesOf(entry, i, field).length > 0) === wantPresent;
	}
	const compare = comparator(condition, budget);
	return (entry, i) => {
		for (const v of valuesOf(entry, i, field)) if (compare(v.type, v.value)) return true;
		return false;
	};
}

type Compare = (type: ValueKind, value: string | number | boolean) => boolean;

function comparator({ operator, value: literal }: Condition, budget: RegexBudget): Compare {
	if (operator === "=~" || operator === "!~") {
		const test = budgetedTest(compileRegex(literal.value as string), budget);
		const want = operator === "=~";
		return (type, value) => type === "s" && test(value as string) === want;
	}
	const wanted = literalValue(literal);
	const accepts = acceptedTypes(literal);
	return (type, value) => {
		if (!accepts.includes(type)) return false;
		const c = value < wanted ? -1 : value > wanted ? 1 : 0;
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

export function literalValue(literal: Literal): string | number | boolean {
	// Stored values are cut to VALUE_MAX_CHARS: a longer literal matches by the same prefix.
	if (literal.type === "string") return literal.value.slice(0, VALUE_MAX_CHARS);
	return literal.value ?? false;
}

function acceptedTypes(literal: Literal): ValueKind[] {
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
		case "nil":
			return [];
	}
}
