// The web viewer's pure parts (src/ui/): the trace model that re-parents spans as they arrive, and
// the search form's TraceQL and URL. The pages themselves are tested in Chromium (test/e2e/viewer/).
import { describe, expect, it } from "vitest";
import { TraceModel } from "../src/ui/trace/trace-model";
import { filtersToTraceQL, NO_FILTERS } from "../src/ui/search/traceql";
import { parseSearchQuery, resolveRange, searchQueryUrl } from "../src/ui/search/search-query";
import type { OtlpResourceSpans } from "../src/otlp/json-types";

function batch(service: string, spans: { id: string; parent?: string; startMs: number; attributes?: Record<string, string> }[]): OtlpResourceSpans[] {
	return [
		{
			resource: { attributes: [{ key: "service.name", value: { stringValue: service } }] },
			scopeSpans: [
				{
					scope: { name: "s" },
					spans: spans.map((s) => ({
						traceId: "ab".repeat(16),
						spanId: s.id,
						parentSpanId: s.parent,
						name: `span ${s.id}`,
						startTimeUnixNano: `${s.startMs}000000`,
						endTimeUnixNano: `${s.startMs + 5}000000`,
						attributes: Object.entries(s.attributes ?? {}).map(([key, v]) => ({ key, value: { stringValue: v } })),
					})),
				},
			],
		},
	];
}

const layout = (model: TraceModel, collapsed: ReadonlySet<string> = new Set()) => model.rows(collapsed).map((r) => `${r.depth}:${r.span.spanId}${r.orphan ? "?" : ""}`);

describe("trace model", () => {
	it("shows a span whose parent has not arrived as a marked root, and moves it under the parent when it comes", () => {
		const model = new TraceModel();
		model.add(batch("callee", [{ id: "c", parent: "b", startMs: 20 }, { id: "d", parent: "c", startMs: 21 }]));
		expect(layout(model)).toEqual(["0:c?", "1:d"]);
		model.add(batch("caller", [{ id: "a", startMs: 10 }, { id: "b", parent: "a", startMs: 15 }]));
		expect(layout(model)).toEqual(["0:a", "1:b", "2:c", "3:d"]);
		expect(model.services).toEqual(["callee", "caller"]);
		expect((model.endUs - model.startUs) / 1000).toBe(16);
	});

	it("ignores spans it already has (a reconnect's snapshot repeats them)", () => {
		const model = new TraceModel();
		expect(model.add(batch("s", [{ id: "a", startMs: 1 }]))).toBe(1);
		const version = model.version;
		expect(model.add(batch("s", [{ id: "a", startMs: 1 }]))).toBe(0);
		expect(model.version).toBe(version);
		expect(model.size).toBe(1);
	});

	it("orders children by start time, leaves collapsed subtrees out, and survives a parent cycle", () => {
		const model = new TraceModel();
		model.add(batch("s", [{ id: "r", startMs: 0 }, { id: "late", parent: "r", startMs: 9 }, { id: "early", parent: "r", startMs: 2 }, { id: "x", parent: "early", startMs: 3 }]));
		expect(layout(model)).toEqual(["0:r", "1:early", "2:x", "1:late"]);
		expect(layout(model, new Set(["early"]))).toEqual(["0:r", "1:early", "1:late"]);
		model.add(batch("s", [{ id: "p", parent: "q", startMs: 1 }, { id: "q", parent: "p", startMs: 1 }]));
		expect(layout(model).filter((r) => /:[pq]/.test(r))).toHaveLength(2);
	});

	it("keeps nanosecond timestamps exact to the microsecond and reads the merged span's original trace", () => {
		const model = new TraceModel();
		model.add(batch("s", [{ id: "a", startMs: 1_764_000_000_123, attributes: { "assembler.original_trace_id": "cd".repeat(16) } }]));
		const span = model.span("a")!;
		expect(span.startUs).toBe(1_764_000_000_123_000);
		expect(span.originalTraceId).toBe("cd".repeat(16));
	});
});

describe("search form", () => {
	it("writes the filters as one TraceQL spanset, as Grafana's builder does", () => {
		expect(filtersToTraceQL(NO_FILTERS)).toBe("{}");
		expect(filtersToTraceQL({ ...NO_FILTERS, service: "frontend", spanName: 'GET "/x"', status: "error" })).toBe('{resource.service.name="frontend" && name="GET \\"/x\\"" && status=error}');
		expect(filtersToTraceQL({ ...NO_FILTERS, minDuration: "100", maxDuration: "1.5s" })).toBe("{duration>=100ms && duration<=1.5s}");
		expect(filtersToTraceQL({ ...NO_FILTERS, minDuration: "soon" })).toBe("{}");
		expect(filtersToTraceQL({ ...NO_FILTERS, attributeKey: "http.response.status_code", attributeValue: "500" })).toBe("{.http.response.status_code=500}");
		expect(filtersToTraceQL({ ...NO_FILTERS, attributeKey: "span.http.route", attributeValue: "/cart" })).toBe('{span.http.route="/cart"}');
	});

	it("round-trips a search through its URL, preset or custom range", () => {
		const preset = { q: '{name="x"}', range: { preset: "6h" as const }, limit: 20 };
		expect(parseSearchQuery(new URL(searchQueryUrl(preset), "http://h").search)).toEqual(preset);
		const custom = { q: "{}", range: { start: 1_700_000_000, end: 1_700_003_600 }, limit: 50 };
		expect(parseSearchQuery(new URL(searchQueryUrl(custom), "http://h").search)).toEqual(custom);
		expect(parseSearchQuery("?q=&start=5&end=1")).toEqual({ q: "{}", range: { preset: "1h" }, limit: 20 });
		expect(parseSearchQuery("")).toBeUndefined();
		expect(resolveRange({ preset: "15m" }, 1_000_000_000)).toEqual({ start: 1_000_000 - 900, end: 1_000_000 });
	});
});
