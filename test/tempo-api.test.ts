// The Tempo HTTP API as Grafana's data source calls it: echo and buildinfo, trace by id (protobuf
// TraceByIDResponse / Trace with everything Grafana dereferences present), tags and values, and
// every bad input a 4xx with a message. Bearer and basic auth, read scope.
import { describe, expect, it } from "vitest";
import { exports } from "cloudflare:workers";
import { fromBinary } from "@bufbuild/protobuf";
import { PartialStatus, TraceByIDResponseSchema, TraceSchema } from "../src/gen/tempopb/tempo_pb";
import { BASE, finalizeNow, postTraces, randomHex, type SpanSpec } from "./helpers";

const MS = 1_000_000n;

function get(path: string, headers: Record<string, string> = {}): Promise<Response> {
	return exports.default.fetch(new Request(`${BASE}${path}`, { headers: { authorization: "Bearer test-token", ...headers } }));
}

/** A trace whose resource has no attributes, whose scope is absent, whose spans have no status, and whose root names an all-zero parent. */
function bareTrace(traceId: string) {
	const rootId = randomHex(8);
	const start = BigInt(Date.now()) * MS;
	return {
		rootId,
		body: {
			resourceSpans: [
				{
					resource: {},
					scopeSpans: [
						{
							spans: [
								{ traceId, spanId: rootId, parentSpanId: "0000000000000000", name: "root", kind: 2, startTimeUnixNano: String(start), endTimeUnixNano: String(start + 5n * MS) },
								{ traceId, spanId: randomHex(8), parentSpanId: rootId, name: "child", kind: 1, startTimeUnixNano: String(start + MS), endTimeUnixNano: String(start + 2n * MS) },
							],
						},
					],
				},
			],
		},
	};
}

describe("Tempo API", () => {
	it("answers Save & test and buildinfo, with Bearer or basic auth", async () => {
		const echo = await get("/api/echo");
		expect(echo.status).toBe(200);
		expect(await echo.text()).toBe("echo");
		const basic = await get("/api/echo", { authorization: `Basic ${btoa("grafana:test-token")}` });
		expect(basic.status).toBe(200);
		await basic.arrayBuffer();
		const wrong = await get("/api/echo", { authorization: `Basic ${btoa("grafana:nope")}` });
		expect(wrong.status).toBe(401);
		await wrong.arrayBuffer();
		const none = await exports.default.fetch(new Request(`${BASE}/api/search?q={}`));
		expect(none.status).toBe(401);
		await none.arrayBuffer();
		const reader = await get("/api/search?q={}", { authorization: "Bearer reader-token" });
		expect(reader.status).toBe(200);
		await reader.arrayBuffer();
		const writer = await get("/api/search?q={}", { authorization: "Bearer writer-token" });
		expect(writer.status).toBe(403);
		await writer.arrayBuffer();
		const info = (await (await get("/api/status/buildinfo")).json()) as { version: string };
		expect(info.version).toMatch(/^\d+\.\d+\.\d+$/);
	});

	it("serves a trace by id as TraceByIDResponse with the nil-safety Grafana needs, open then complete", async () => {
		const traceId = randomHex(16);
		const { rootId, body } = bareTrace(traceId);
		expect((await postTraces(body)).status).toBe(200);
		const open = await get(`/api/v2/traces/${traceId}`, { accept: "application/protobuf" });
		expect(open.status).toBe(200);
		const partial = fromBinary(TraceByIDResponseSchema, new Uint8Array(await open.arrayBuffer()));
		expect(partial.status).toBe(PartialStatus.PARTIAL);
		await finalizeNow(traceId);
		const done = await get(`/api/v2/traces/${traceId.toUpperCase()}`, { accept: "application/protobuf" });
		const response = fromBinary(TraceByIDResponseSchema, new Uint8Array(await done.arrayBuffer()));
		expect(response.status).toBe(PartialStatus.COMPLETE);
		const groups = response.trace!.resourceSpans;
		expect(groups).toHaveLength(1);
		expect(groups[0]!.resource!.attributes).toContainEqual(expect.objectContaining({ key: "service.name", value: expect.objectContaining({ value: { case: "stringValue", value: "unknown_service" } }) }));
		for (const scopeSpans of groups[0]!.scopeSpans) {
			expect(scopeSpans.scope).toBeDefined();
			for (const span of scopeSpans.spans) expect(span.status).toBeDefined();
		}
		const root = groups[0]!.scopeSpans[0]!.spans.find((s) => s.name === "root")!;
		expect(root.parentSpanId).toHaveLength(0);
		expect([...root.spanId].map((b) => b.toString(16).padStart(2, "0")).join("")).toBe(rootId);
	});

	it("accepts ids without leading zeros, answers v1 as Trace or {batches}, and 404 for unknown ids", async () => {
		const traceId = `0000${randomHex(14)}`;
		expect((await postTraces(bareTrace(traceId).body)).status).toBe(200);
		const short = traceId.replace(/^0+/, "");
		const v1 = await get(`/api/traces/${short}`, { accept: "application/protobuf" });
		expect(v1.status).toBe(200);
		expect(fromBinary(TraceSchema, new Uint8Array(await v1.arrayBuffer())).resourceSpans[0]!.scopeSpans[0]!.spans).toHaveLength(2);
		const v1json = (await (await get(`/api/traces/${short}`)).json()) as { batches: { scopeSpans: { spans: { traceId: string }[] }[] }[] };
		expect(v1json.batches[0]!.scopeSpans[0]!.spans[0]!.traceId).toBe(traceId);
		const v2json = (await (await get(`/api/v2/traces/${traceId}`)).json()) as { trace: { resourceSpans: unknown[] }; status?: string };
		expect(v2json.status).toBe("PARTIAL");
		expect(v2json.trace.resourceSpans).toHaveLength(1);
		for (const path of [`/api/v2/traces/${randomHex(16)}`, `/api/traces/${randomHex(16)}`]) {
			const miss = await get(path, { accept: "application/protobuf" });
			expect(miss.status).toBe(404);
			await miss.arrayBuffer();
		}
	});

	it("answers a merged child's id with the whole merged trace", async () => {
		const parentId = randomHex(16);
		const parentSpan = randomHex(8);
		const start = BigInt(Date.now()) * MS;
		const spans: SpanSpec[] = [
			{ traceId: parentId, spanId: parentSpan, name: "parent", service: "a", startNs: start, endNs: start + 10n * MS },
		];
		const childId = randomHex(16);
		spans.push({ traceId: childId, spanId: randomHex(8), name: "child", service: "b", startNs: start + MS, endNs: start + 2n * MS, attributes: { traceparent: `00-${parentId}-${parentSpan}-01` } });
		const { jsonRequest } = await import("./helpers");
		expect((await postTraces(jsonRequest(spans))).status).toBe(200);
		const viaChild = await get(`/api/v2/traces/${childId}`, { accept: "application/protobuf" });
		expect(viaChild.status).toBe(200);
		const names = fromBinary(TraceByIDResponseSchema, new Uint8Array(await viaChild.arrayBuffer())).trace!.resourceSpans.flatMap((rs) => rs.scopeSpans.flatMap((ss) => ss.spans.map((s) => s.name)));
		expect(names.sort()).toEqual(["child", "parent"]);
	});

	it("lists tags by scope and typed values, old and new API", async () => {
		const traceId = randomHex(16);
		const start = BigInt(Date.now()) * MS;
		const { jsonRequest } = await import("./helpers");
		await postTraces(jsonRequest([{ traceId, spanId: randomHex(8), name: "tagged-op", service: "tag-svc", startNs: start, endNs: start + MS, attributes: { "http.route": "/cart", "http.response.status_code": 200, cached: true, ratio: 0.5 } }]));
		await finalizeNow(traceId);
		const v2 = (await (await get("/api/v2/search/tags?limit=5000")).json()) as { scopes: { name: string; tags: string[] }[] };
		expect(v2.scopes.map((s) => s.name)).toEqual(["resource", "span", "intrinsic"]);
		expect(v2.scopes[0]!.tags).toContain("service.name");
		expect(v2.scopes[1]!.tags).toEqual(expect.arrayContaining(["http.route", "http.response.status_code", "cached", "ratio"]));
		expect(v2.scopes[2]!.tags).toEqual(expect.arrayContaining(["name", "status", "kind", "duration", "traceDuration", "rootName", "rootServiceName", "statusMessage"]));
		const values = async (tag: string) => ((await (await get(`/api/v2/search/tag/${encodeURIComponent(tag)}/values?limit=5000&q=%7B%7D&tag=${tag}`)).json()) as { tagValues: { type: string; value: string }[] }).tagValues;
		expect(await values("resource.service.name")).toContainEqual({ type: "string", value: "tag-svc" });
		expect(await values("span.http.route")).toContainEqual({ type: "string", value: "/cart" });
		expect(await values(".http.route")).toContainEqual({ type: "string", value: "/cart" });
		expect(await values("span.http.response.status_code")).toContainEqual({ type: "int", value: "200" });
		expect(await values("span.cached")).toContainEqual({ type: "bool", value: "true" });
		expect(await values("span.ratio")).toContainEqual({ type: "float", value: "0.5" });
		expect(await values("name")).toContainEqual({ type: "string", value: "tagged-op" });
		expect(await values("status")).toEqual(["unset", "ok", "error"].map((value) => ({ type: "keyword", value })));
		expect((await values("kind")).map((v) => v.value).sort()).toEqual(["client", "consumer", "internal", "producer", "server", "unspecified"]);
		// `q` (the rest of the builder's query) narrows the values to spans that match it.
		const otherId = randomHex(16);
		await postTraces(jsonRequest([{ traceId: otherId, spanId: randomHex(8), name: "other-op", service: "other-svc", startNs: start, endNs: start + MS, attributes: { "http.route": "/other" } }]));
		await finalizeNow(otherId);
		const narrowed = async (tag: string, q: string) => ((await (await get(`/api/v2/search/tag/${tag}/values?q=${encodeURIComponent(q)}`)).json()) as { tagValues: { type: string; value: string }[] }).tagValues;
		expect(await narrowed("name", '{resource.service.name="tag-svc"}')).toEqual([{ type: "string", value: "tagged-op" }]);
		expect(await narrowed("span.http.route", '{resource.service.name="other-svc"}')).toEqual([{ type: "string", value: "/other" }]);
		// What the builder sends while a condition is half typed lists everything instead of failing.
		expect((await narrowed("name", '{resource.service.name="tag-svc" && name=}')).map((v) => v.value)).toEqual(expect.arrayContaining(["tagged-op", "other-op"]));
		const v1 = (await (await get("/api/search/tags")).json()) as { tagNames: string[] };
		expect(v1.tagNames).toEqual(expect.arrayContaining(["service.name", "http.route"]));
		const v1values = (await (await get("/api/search/tag/service.name/values")).json()) as { tagValues: string[] };
		expect(v1values.tagValues).toContain("tag-svc");
	});

	it.each([
		["/api/search?q=" + encodeURIComponent("{} | rate()"), /metrics query: ask \/api\/metrics/],
		["/api/search?q=" + encodeURIComponent("{} >> {} | by(name)"), /on spansets is not supported/],
		["/api/search?q=" + encodeURIComponent("{name=}"), /TraceQL/],
		["/api/search?q={}&start=yesterday", /start must be/],
		["/api/search?q={}&start=200&end=100", /after end/],
		["/api/search?q={}&start=1&end=1000000000", /longer than 168 hours/],
		["/api/search?q={}&limit=-1", /limit must be/],
		["/api/search?q={}&spss=x", /spss must be/],
		["/api/v2/traces/xyz", /invalid trace id/],
		["/api/v2/traces/" + "a".repeat(33), /invalid trace id/],
		["/api/v2/traces/0000", /invalid trace id/],
		["/api/v2/traces/%ZZ", /invalid trace id/],
		["/api/traces/%E0%A4%A", /invalid trace id/],
		["/api/v2/search/tag/event.name/values", /unsupported tag/],
		["/api/v2/search/tags?scope=event", /unsupported scope/],
	])("GET %s is a 400 with a plain message", async (path, message) => {
		const response = await get(path);
		expect(response.status).toBe(400);
		expect(((await response.json()) as { message: string }).message).toMatch(message);
	});

	it("answers other methods on /api with 405 and unknown GET routes with 404", async () => {
		const response = await exports.default.fetch(new Request(`${BASE}/api/search`, { method: "POST", headers: { authorization: "Bearer test-token" } }));
		expect(response.status).toBe(405);
		await response.arrayBuffer();
		const unknown = await get("/api/v3/nothing");
		expect(unknown.status).toBe(404);
		await unknown.arrayBuffer();
	});
});
