// The parsed shape of a TraceQL query: a spanset pipeline (spansets in braces, combined with
// `&&`, `||` and structural operators, then `| select(...)` and `| count() > N`-style filters),
// optionally ending in one metrics function (`| rate() by(...)`, `| compare(...)`, then `| topk(k)`),
// and query hints (`with(...)`).
import type { Intrinsic } from "./fields";

export type Scope = "resource" | "span" | "any";

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
	| { type: "kind"; value: number }
	/** `attr = nil` (the span lacks it) and `attr != nil` (it has it). */
	| { type: "nil"; value: null };

export interface Condition {
	op: "cond";
	field: Field;
	operator: Operator;
	value: Literal;
}

/** A condition on one span; `static` is a bare `true`/`false` (the Drilldown writes `{nestedSetParent<0 && true}`). */
export type Expr = Condition | { op: "static"; value: boolean } | { op: "and" | "or"; left: Expr; right: Expr };

/**
 * `A > B` children, `A >> B` descendants, `A < B` parents, `A << B` ancestors, `A ~ B` siblings:
 * each returns spans of B related so to a span of A. "union" (`&>`...) returns both sides' related
 * spans; "not" (`!>`...) the spans of B without such a relative in A.
 */
export type StructuralOp = ">" | ">>" | "<" | "<<" | "~";

export type SpansetExpr =
	| { kind: "filter"; filter: Expr | undefined }
	| { kind: "and" | "or"; left: SpansetExpr; right: SpansetExpr }
	| { kind: "structural"; op: StructuralOp; mode: "plain" | "union" | "not"; left: SpansetExpr; right: SpansetExpr }
	| { kind: "pipeline"; pipeline: Pipeline };

export type AggregateFunction = "count" | "avg" | "min" | "max" | "sum";

export type Stage =
	| { kind: "select"; fields: Field[] }
	/** A spanset filter: `count() > 2`, `avg(duration) > 1s`; the spanset passes or is dropped whole. */
	| { kind: "aggregate"; fn: AggregateFunction; field: Field | undefined; operator: Operator; value: number };

export interface Pipeline {
	source: SpansetExpr;
	stages: Stage[];
}

export type MetricsFunction =
	| "rate"
	| "count_over_time"
	| "min_over_time"
	| "max_over_time"
	| "sum_over_time"
	| "avg_over_time"
	| "quantile_over_time"
	| "histogram_over_time"
	| "compare";

export interface CompareArgs {
	/** The selection's filter (`{}` selects every span). */
	selection: Expr | undefined;
	topN: number;
	/** Unix nanoseconds, both or neither: a span is in the selection only if it starts in (start, end]. */
	startNs?: bigint;
	endNs?: bigint;
}

export interface MetricsStage {
	fn: MetricsFunction;
	/** The value aggregated by *_over_time, quantile and histogram (e.g. `duration`). */
	field?: Field;
	quantiles: number[];
	by: Field[];
	compare?: CompareArgs;
	/** `| topk(k)` / `| bottomk(k)`: per sample, keep the k highest / lowest series. */
	rank?: { op: "topk" | "bottomk"; k: number };
}

export type HintValue = string | number | boolean;

export interface Query {
	/**
	 * The filter of a query that is one spanset without stages (`{...}`), as before structural
	 * operators existed: what the search prefilter and narrowing tag-value lists read. Undefined for
	 * `{}` and for anything more than one spanset.
	 */
	filter: Expr | undefined;
	pipeline: Pipeline;
	/** Fields named by `| select(...)`, returned with each matched span. */
	select: Field[];
	metrics?: MetricsStage;
	hints: Record<string, HintValue>;
}
