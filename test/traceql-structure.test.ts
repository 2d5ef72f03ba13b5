// TraceQL structure on hand-built trees: structural operators (child, descendant, parent,
// ancestor, sibling, their union and negated forms), spanset && and ||, spanset filters, the
// nested-set intrinsics, and select(); then the search-side queries of Grafana's Traces Drilldown
// (structure tab, exceptions tab, span list) through /api/search.
import { describe, expect, it } from "vitest";
import { exports } from "cloudflare:workers";
import { buildEntry } from "../src/search/entry";
import { compileQuery } from "../src/traceql/match";
import { parseQuery } from "../src/traceql/parse";
import { BASE, finalizeNow, postTraces, protobufRequest, randomHex, type SpanSpec } from "./helpers";

const MS = 1_000_000n;
const T = BigInt(Date.now() - 600_000) * MS;

/**
 *   A  GET / (frontend, server)
 *   ├─ B  call db (frontend, client)
 *   │   └─ D  query (db, server, error)
 *   │       └─ F  parse (db, internal)
 *   └─ C  get (cache, client)
 *   E  late (an orphan: its parent is not in the trace)
 */
function tree() {
	const traceId = randomHex(16);
	const id = { A: randomHex(8), B: randomHex(8), C: randomHex(8), D: randomHex(8), E: randomHex(8), F: randomHex(8) };
	const span = (name: string, spanId: string, parentSpanId: string | undefined, service: string, kind: number, startMs: number, durationMs: number, statusCode = 0): SpanSpec => ({
		traceId,
		spanId,
		parentSpanId,
		name,
		service,
		kind,
		statusCode,
		startNs: T + BigInt(startMs) * MS,
		endNs: T + BigInt(startMs + durationMs) * MS,
		attributes: { "http.route": "/" },
	});
	const spans = [
		span("GET /", id.A, undefined, "frontend", 2, 0, 100),
		span("call db", id.B, id.A, "frontend", 3, 1, 50),
		span("query", id.D, id.B, "db", 2, 2, 40, 2),
		span("parse", id.F, id.D, "db", 1, 3, 5),
		span("get", id.C, id.A, "cache", 3, 5, 10),
		span("late", id.E, randomHex(8), "frontend", 1, 200, 1),
	];
	return { traceId, spans, entry: buildEntry(traceId, protobufRequest(spans)) };
}

const { entry } = tree();

function names(query: string): string[] {
	const match = compileQuery(parseQuery(query)).match(entry, 100);
	return (match?.spans.map((s) => s.name) ?? []).sort();
}

describe("TraceQL structural operators on a hand-built tree", () => {
	it.each([
		['{name="GET /"} > {}', ["call db", "get"]],
		['{name="GET /"} >> {}', ["call db", "get", "parse", "query"]],
		['{name="query"} < {}', ["call db"]],
		['{name="parse"} << {}', ["GET /", "call db", "query"]],
		['{name="call db"} ~ {}', ["get"]],
		['{name="late"} ~ {}', []],
		['{name="GET /"} ~ {}', []],
		['{kind=server} >> {status=error}', ["query"]],
		['{name="GET /"} &> {kind=client}', ["GET /", "call db", "get"]],
		['{name="query"} &<< {name="GET /"}', ["GET /", "query"]],
		['{name="GET /"} &>> {status = error}', ["GET /", "query"]],
		['{name="call db"} &~ {}', ["call db", "get"]],
		['{status=error} !< {kind=client}', ["get"]],
		['{name="GET /"} !>> {}', ["GET /", "late"]],
		['{name="GET /"} !> {}', ["GET /", "late", "parse", "query"]],
		['{name="call db"} !~ {}', ["GET /", "call db", "late", "parse", "query"]],
		['{name="parse"} !<< {kind=client}', ["get"]],
		['{name="GET /"} > {name="call db"} > {}', ["query"]],
		['({name="GET /"} > {}) > {}', ["query"]],
	] as const)("%s", (query, expected) => {
		expect(names(query)).toEqual([...expected].sort());
	});
});

describe("TraceQL spansets combined, filtered and selected", () => {
	it.each([
		['{name="GET /"} && {name="get"}', ["GET /", "get"]],
		['{name="GET /"} && {name="nope"}', []],
		['{name="GET /"} || {name="nope"}', ["GET /"]],
		['{name="GET /"} || {name="get"} && {name="nope"}', ["GET /"]],
		["{} | count() > 5", ["GET /", "call db", "get", "late", "parse", "query"]],
		["{kind=client} | count() > 2", []],
		["{kind=client} | count() = 2", ["call db", "get"]],
		["{kind=client} | avg(duration) > 25ms", ["call db", "get"]],
		["{kind=client} | max(duration) < 20ms", []],
		['{resource.service.name="db"} | sum(duration) >= 45ms', ["parse", "query"]],
		["{nestedSetParent<0 && true}", ["GET /"]],
		["{nestedSetParent<0 && true&& duration > 1s}", []],
		["{true}", ["GET /", "call db", "get", "late", "parse", "query"]],
		["{false}", []],
		["{span.http.route != nil && nestedSetParent = 1}", ["call db", "get"]],
		["{span.missing = nil && kind=internal}", ["late", "parse"]],
		['{span.db.system.name!="" && true}', []],
	] as const)("%s", (query, expected) => {
		expect(names(query)).toEqual([...expected].sort());
	});

	it("numbers the tree as Tempo's nested sets: left/right in depth-first order, parent = the parent's left, -1 for the root", () => {
		const match = compileQuery(parseQuery("{} | select(nestedSetLeft, nestedSetRight, nestedSetParent)")).match(entry, 100)!;
		const numbers = Object.fromEntries(match.spans.map((s) => [s.name, s.attributes.map((a) => [a[0], a[1], a[2]])]));
		expect(numbers["GET /"]).toEqual([["nestedSetLeft", "i", 1], ["nestedSetRight", "i", 10], ["nestedSetParent", "i", -1]]);
		expect(numbers["call db"]).toEqual([["nestedSetLeft", "i", 2], ["nestedSetRight", "i", 7], ["nestedSetParent", "i", 1]]);
		expect(numbers["query"]).toEqual([["nestedSetLeft", "i", 3], ["nestedSetRight", "i", 6], ["nestedSetParent", "i", 2]]);
		expect(numbers["parse"]).toEqual([["nestedSetLeft", "i", 4], ["nestedSetRight", "i", 5], ["nestedSetParent", "i", 3]]);
		expect(numbers["get"]).toEqual([["nestedSetLeft", "i", 8], ["nestedSetRight", "i", 9], ["nestedSetParent", "i", 1]]);
		// An orphan is not a root: its parent is unknown (0).
		expect(numbers["late"]).toEqual([["nestedSetLeft", "i", 11], ["nestedSetRight", "i", 12], ["nestedSetParent", "i", 0]]);
	});

	it("select() returns the named fields: attributes by their own key, status as a keyword, event fields skipped", () => {
		const match = compileQuery(parseQuery('{name="query"} | select(status, resource.service.name, name, span.missing, event.exception.message, kind)')).match(entry, 10)!;
		expect(match.spans).toHaveLength(1);
		expect(match.spans[0]!.attributes).toEqual([["status", "s", "error"], ["service.name", "s", "db"], ["kind", "s", "server"]]);
	});
});

// --- the Drilldown's search-side queries, end to end ----------------------------------------------

interface SearchJson {
	traces: { traceID: string; spanSets?: { spans: { spanID: string; name?: string; attributes?: { key: string; value: Record<string, unknown> }[] }[]; matched: number }[]; spanSet?: unknown }[];
}

async function search(q: string, params: Record<string, string> = {}): Promise<{ status: number; body: SearchJson; text: string }> {
	const url = new URL(`${BASE}/api/search`);
	url.searchParams.set("q", q);
	url.searchParams.set("start", String(Math.floor(Date.now() / 1000) - 3600));
	url.searchParams.set("end", String(Math.floor(Date.now() / 1000) + 60));
	for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
	const response = await exports.default.fetch(new Request(url, { headers: { authorization: "Bearer test-token" } }));
	const text = await response.text();
	return { status: response.status, body: response.status === 200 ? (JSON.parse(text) as SearchJson) : { traces: [] }, text };
}

describe("the Drilldown's search queries through /api/search", () => {
	it("answers the structure, exceptions and span-list tabs", async () => {
		const { traceId, spans } = tree();
		const response = await postTraces(protobufRequest(spans), { headers: { authorization: "Bearer test-token" } });
		expect(response.status).toBe(200);
		await response.arrayBuffer();
		await finalizeNow(traceId);
		const hex = traceId.replace(/^0+/, "");
		// Generous: under the whole suite's load, finalization and the index write take seconds.
		const deadline = Date.now() + 20_000;
		while (!(await search("{nestedSetParent<0 && true}")).body.traces.some((t) => t.traceID === hex)) {
			if (Date.now() > deadline) throw new Error("not indexed in time");
			await new Promise((r) => setTimeout(r, 50));
		}
		// Structure tab: union-descendant, || between spansets, select of the nested-set numbers.
		const structure = await search(
			"({nestedSetParent<0 && true && status = error} &>> { status = error }) || ({nestedSetParent<0 && true}) | select(status, resource.service.name, name, nestedSetParent, nestedSetLeft, nestedSetRight)",
			{ limit: "200", spss: "20" },
		);
		expect(structure.status, structure.text).toBe(200);
		const trace = structure.body.traces.find((t) => t.traceID === hex)!;
		expect(trace.spanSets).toHaveLength(1);
		const root = trace.spanSets![0]!.spans.find((s) => s.name === "GET /")!;
		expect(root.attributes).toEqual(
			expect.arrayContaining([
				{ key: "nestedSetLeft", value: { intValue: "1" } },
				{ key: "nestedSetParent", value: { intValue: "-1" } },
				{ key: "service.name", value: { stringValue: "frontend" } },
				{ key: "status", value: { stringValue: "unset" } },
			]),
		);
		// Exceptions tab: select of event fields the index does not hold, and with(most_recent=true).
		const exceptions = await search("{nestedSetParent<0 && true && status = error} | select(resource.service.name, event.exception.message,event.exception.stacktrace,event.exception.type) with(most_recent=true)", { limit: "400", spss: "10" });
		expect(exceptions.status, exceptions.text).toBe(200);
		const errors = await search("{true && true && status = error} | select(resource.service.name, event.exception.message,event.exception.stacktrace,event.exception.type) with(most_recent=true)", { limit: "400", spss: "10" });
		expect(errors.body.traces.find((t) => t.traceID === hex)?.spanSets?.[0]?.spans.map((s) => s.name)).toEqual(["query"]);
		// Span list: no space before && in the duration variant, and the transient invalid form is a 400.
		expect((await search("{nestedSetParent<0 && true&& duration > 1ms}")).body.traces.some((t) => t.traceID === hex)).toBe(true);
		expect((await search("{nestedSetParent<0 && true&& duration > }")).status).toBe(400);
	}, 30_000);
});
