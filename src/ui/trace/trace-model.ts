// The spans of one trace as they arrive, and the rows the waterfall shows. Spans come in any order
// (a live delta before its parent, a merged child's spans before the caller's span): a span whose
// parent has not arrived is shown as a root, marked, and moves under its parent when it comes.
import type { OtlpKeyValue, OtlpResourceSpans, OtlpSpan } from "../../otlp/json-types.ts";

export const ORIGINAL_TRACE_ID = "assembler.original_trace_id";

export interface SpanView {
	spanId: string;
	parentSpanId: string;
	name: string;
	kind: number;
	/** Microseconds since the epoch: exact as a double, unlike nanoseconds. */
	startUs: number;
	endUs: number;
	service: string;
	statusCode: number;
	statusMessage: string;
	attributes: OtlpKeyValue[];
	events: NonNullable<OtlpSpan["events"]>;
	links: NonNullable<OtlpSpan["links"]>;
	resourceAttributes: OtlpKeyValue[];
	scope: { name: string; version: string; attributes: OtlpKeyValue[] };
	/** The trace the span was sent under, when a merge moved it into this one. */
	originalTraceId?: string;
}

export interface SpanRow {
	span: SpanView;
	depth: number;
	childCount: number;
	/** It names a parent that has not arrived (yet). */
	orphan: boolean;
}

export class TraceModel {
	readonly #spans = new Map<string, SpanView>();
	/** Bumped by every change; the rows are recomputed only when it moved. */
	version = 0;
	#startUs = Infinity;
	#endUs = -Infinity;
	#services: string[] = [];
	#errors = 0;
	#rowsCache?: { version: number; collapsed: ReadonlySet<string>; rows: SpanRow[] };

	get size(): number {
		return this.#spans.size;
	}
	get startUs(): number {
		return this.#spans.size ? this.#startUs : 0;
	}
	get endUs(): number {
		return this.#spans.size ? this.#endUs : 0;
	}
	get services(): readonly string[] {
		return this.#services;
	}
	get errorCount(): number {
		return this.#errors;
	}

	span(spanId: string): SpanView | undefined {
		return this.#spans.get(spanId);
	}

	/** Adds the spans not seen before (a reconnect's snapshot repeats them); returns how many were new. */
	add(resourceSpans: readonly OtlpResourceSpans[] | undefined): number {
		let added = 0;
		for (const rs of resourceSpans ?? []) {
			const resourceAttributes = rs.resource?.attributes ?? [];
			const service = stringAttribute(resourceAttributes, "service.name") ?? "unknown_service";
			for (const ss of rs.scopeSpans ?? []) {
				const scope = { name: ss.scope?.name ?? "", version: ss.scope?.version ?? "", attributes: ss.scope?.attributes ?? [] };
				for (const span of ss.spans ?? []) {
					if (!span.spanId || this.#spans.has(span.spanId)) continue;
					const view = toView(span, service, resourceAttributes, scope);
					this.#spans.set(view.spanId, view);
					this.#startUs = Math.min(this.#startUs, view.startUs);
					this.#endUs = Math.max(this.#endUs, view.endUs);
					if (!this.#services.includes(service)) this.#services.push(service);
					if (view.statusCode === 2) this.#errors++;
					added++;
				}
			}
		}
		if (added) this.version++;
		return added;
	}

	/** Depth-first, children by start time; the subtrees of `collapsed` spans are left out. */
	rows(collapsed: ReadonlySet<string>): SpanRow[] {
		const cache = this.#rowsCache;
		if (cache && cache.version === this.version && cache.collapsed === collapsed) return cache.rows;
		const children = new Map<string, SpanView[]>();
		const roots: SpanView[] = [];
		for (const span of this.#spans.values()) {
			if (span.parentSpanId && span.parentSpanId !== span.spanId && this.#spans.has(span.parentSpanId)) {
				let list = children.get(span.parentSpanId);
				if (!list) children.set(span.parentSpanId, (list = []));
				list.push(span);
			} else roots.push(span);
		}
		const byStart = (a: SpanView, b: SpanView) => a.startUs - b.startUs || a.endUs - b.endUs;
		for (const list of children.values()) list.sort(byStart);
		roots.sort(byStart);
		const rows: SpanRow[] = [];
		const visited = new Set<string>();
		const stack: { span: SpanView; depth: number }[] = [];
		const visit = (root: SpanView) => {
			stack.push({ span: root, depth: 0 });
			while (stack.length) {
				const { span, depth } = stack.pop()!;
				if (visited.has(span.spanId)) continue;
				visited.add(span.spanId);
				const kids = children.get(span.spanId) ?? [];
				rows.push({ span, depth, childCount: kids.length, orphan: depth === 0 && span.parentSpanId !== "" });
				if (collapsed.has(span.spanId)) {
					for (const kid of kids) markVisited(kid, children, visited);
					continue;
				}
				for (let i = kids.length - 1; i >= 0; i--) stack.push({ span: kids[i]!, depth: depth + 1 });
			}
		};
		for (const root of roots) visit(root);
		// Spans whose parents form a cycle (malformed input) reach no root: show them as roots too.
		if (visited.size < this.#spans.size) {
			for (const span of [...this.#spans.values()].sort(byStart)) if (!visited.has(span.spanId)) visit(span);
		}
		this.#rowsCache = { version: this.version, collapsed, rows };
		return rows;
	}
}

function markVisited(span: SpanView, children: Map<string, SpanView[]>, visited: Set<string>): void {
	const stack = [span];
	while (stack.length) {
		const s = stack.pop()!;
		if (visited.has(s.spanId)) continue;
		visited.add(s.spanId);
		stack.push(...(children.get(s.spanId) ?? []));
	}
}

function toView(span: OtlpSpan, service: string, resourceAttributes: OtlpKeyValue[], scope: SpanView["scope"]): SpanView {
	const startUs = micros(span.startTimeUnixNano);
	const attributes = span.attributes ?? [];
	return {
		spanId: span.spanId,
		parentSpanId: span.parentSpanId ?? "",
		name: span.name ?? "",
		kind: span.kind ?? 0,
		startUs,
		endUs: Math.max(startUs, micros(span.endTimeUnixNano)),
		service,
		statusCode: span.status?.code ?? 0,
		statusMessage: span.status?.message ?? "",
		attributes,
		events: span.events ?? [],
		links: span.links ?? [],
		resourceAttributes,
		scope,
		originalTraceId: stringAttribute(attributes, ORIGINAL_TRACE_ID),
	};
}

/** Nanoseconds (a decimal string, beyond a double's exact range) to whole microseconds. */
export function micros(nanos: string | number | undefined): number {
	if (nanos === undefined || nanos === "") return 0;
	const text = String(nanos);
	return text.length > 3 ? Number(text.slice(0, -3)) : 0;
}

export function stringAttribute(attributes: readonly OtlpKeyValue[], key: string): string | undefined {
	const value = attributes.find((a) => a.key === key)?.value;
	return value?.stringValue;
}
