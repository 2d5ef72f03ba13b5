// A parsed query made ready to run against index entries: the SQL prefilter a partition runs over
// its rows, then the exact evaluation of the spanset pipeline on each entry that passes, and the
// attributes returned with each matched span (those the conditions named, and select(...)'s).
import type { EntrySpan, Pair, TraceEntry } from "../search/entry";
import type { Expr, Field, Query, SpansetExpr } from "./ast";
import { kindName, statusName } from "./fields";
import { prefilterOfPipeline, type Prefilter } from "./prefilter";
import { RegexBudget } from "./regex";
import { compilePipeline, type Spanset } from "./spansets";
import { valuesOf } from "./values";

/** A span set as search returns it: the spans that matched, up to `spss` of them. */
export interface MatchedSpan {
	spanId: string;
	name: string;
	startNs: string;
	durationNs: number;
	/** The attributes the query named or selected, as the span (or its resource) has them. */
	attributes: Pair[];
}

export interface TraceMatch {
	matched: number;
	spans: MatchedSpan[];
}

export interface CompiledQuery {
	/** SQL boolean over the partition's columns, with its parameters. */
	prefilter: Prefilter;
	/** Undefined when nothing in the trace matches. */
	match(entry: TraceEntry, spss: number): TraceMatch | undefined;
	/** Whether one span of the entry is in the query's result. */
	spanMatches(entry: TraceEntry, span: EntrySpan): boolean;
	/** The result as a flag per kept span of the entry. */
	spanset(entry: TraceEntry): Spanset;
	/** `{}`: every span of every trace matches. */
	matchesEverything: boolean;
}

export function compileQuery(query: Query): CompiledQuery {
	// One budget per compiled query: it restarts with each evaluation (see RegexBudget).
	const budget = new RegexBudget();
	const evaluate = compilePipeline(query.pipeline, budget);
	const returned = returnedFields(query);
	const source = query.pipeline.source;
	const matchesEverything = query.pipeline.stages.every((s) => s.kind === "select") && source.kind === "filter" && source.filter === undefined;
	let last: { entry: TraceEntry; set: Spanset; index?: Map<EntrySpan, number> } | undefined;
	const spanset = (entry: TraceEntry): Spanset => {
		if (last?.entry !== entry) last = { entry, set: evaluate(entry) };
		return last.set;
	};
	return {
		prefilter: prefilterOfPipeline(query.pipeline),
		matchesEverything,
		spanset,
		spanMatches(entry, span) {
			const set = spanset(entry);
			// Callers ask span by span over one entry: index its spans once, not per call.
			last!.index ??= new Map(entry.spans.map((s, i) => [s, i]));
			const index = last!.index.get(span);
			return index !== undefined && set[index] === 1;
		},
		match(entry, spss) {
			const set = spanset(entry);
			let matched = 0;
			const spans: MatchedSpan[] = [];
			for (let i = 0; i < set.length; i++) {
				if (!set[i]) continue;
				matched++;
				if (spans.length < spss) {
					const span = entry.spans[i]!;
					spans.push({ spanId: span[0], name: span[1], startNs: span[2], durationNs: span[3], attributes: attributesOf(entry, i, returned) });
				}
			}
			return matched > 0 ? { matched, spans } : undefined;
		},
	};
}

/** Fields whose values come back with each span: attributes the conditions name, then select's fields. */
function returnedFields(query: Query): Field[] {
	const fields: Field[] = [];
	const add = (field: Field) => {
		if (!fields.some((f) => sameField(f, field))) fields.push(field);
	};
	const fromExpr = (expr: Expr | undefined) => {
		if (!expr || expr.op === "static") return;
		if (expr.op === "cond") {
			if (expr.field.kind === "attribute") add(expr.field);
			return;
		}
		fromExpr(expr.left);
		fromExpr(expr.right);
	};
	const fromSpanset = (expr: SpansetExpr) => {
		if (expr.kind === "filter") fromExpr(expr.filter);
		else if (expr.kind === "pipeline") fromSpanset(expr.pipeline.source);
		else {
			fromSpanset(expr.left);
			fromSpanset(expr.right);
		}
	};
	fromSpanset(query.pipeline.source);
	for (const field of query.select) {
		// A span's name and duration are already fields of the returned span.
		if (field.kind === "intrinsic" && (field.name === "name" || field.name === "duration")) continue;
		add(field);
	}
	return fields;
}

function sameField(a: Field, b: Field): boolean {
	if (a.kind === "intrinsic" || b.kind === "intrinsic") return a.kind === b.kind && a.kind === "intrinsic" && b.kind === "intrinsic" && a.name === b.name;
	return a.key === b.key && a.scope === b.scope;
}

/**
 * A field's value as an attribute of a returned span. Attributes keep their own (unscoped) key, as
 * Tempo returns them (`service.name`); intrinsics their canonical name, keywords as strings and
 * the nested-set numbers as integers, which the Drilldown's structure tab reads.
 */
function attributesOf(entry: TraceEntry, index: number, fields: readonly Field[]): Pair[] {
	const out: Pair[] = [];
	for (const field of fields) {
		const value = valuesOf(entry, index, field)[0];
		if (!value) continue;
		const key = field.kind === "attribute" ? field.key : field.name;
		switch (value.type) {
			case "status":
				out.push([key, "s", statusName(value.value as number)]);
				break;
			case "kind":
				out.push([key, "s", kindName(value.value as number)]);
				break;
			case "duration":
				out.push([key, "i", value.value as number]);
				break;
			default:
				out.push([key, value.type, value.value]);
		}
	}
	return out;
}
