// End to end: Grafana's view of the assembler on `wrangler dev`. The OpenTelemetry JS SDK exports
// a trace; search finds it while open and after finalization, with a JSON body that has exactly the
// keys Grafana's strict decoder allows; trace by id is decoded with the generated tempopb schema and
// has everything Grafana dereferences; Bearer and basic auth both work.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fromBinary, fromJson, type JsonValue } from "@bufbuild/protobuf";
import { SpanKind, SpanStatusCode, context, trace } from "@opentelemetry/api";
import { BasicTracerProvider, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-proto";
import { resourceFromAttributes } from "@opentelemetry/resources";
import { startDevServer, type DevServer } from "../../scripts/lib/dev-server.ts";
import { PartialStatus, SearchResponseSchema, TraceByIDResponseSchema } from "../../src/gen/tempopb/tempo_pb.ts";

let server: DevServer;
const TOKEN = "e2e-tempo-token";
const BEARER = { authorization: `Bearer ${TOKEN}` };
const BASIC = { authorization: `Basic ${Buffer.from(`grafana:${TOKEN}`).toString("base64")}` };

beforeAll(async () => {
	server = await startDevServer({ vars: { AUTH_TOKENS: TOKEN, QUIET_PERIOD_MS: "1500" } });
});
afterAll(async () => {
	await server?.stop();
});

// Grafana's decoder (Tempo's schema of 2025-05-29): these keys and no others, in this spelling.
const ALLOWED: Record<string, readonly string[]> = {
	response: ["traces", "metrics"],
	trace: ["traceID", "rootServiceName", "rootTraceName", "startTimeUnixNano", "durationMs", "spanSets", "spanSet", "serviceStats"],
	serviceStats: ["spanCount", "errorCount"],
	spanSet: ["spans", "matched", "attributes"],
	span: ["spanID", "name", "startTimeUnixNano", "durationNanos", "attributes"],
	metrics: ["inspectedTraces", "inspectedBytes", "totalBlocks", "completedJobs", "totalJobs", "totalBlockBytes", "inspectedSpans"],
	keyValue: ["key", "value"],
	anyValue: ["stringValue", "boolValue", "intValue", "doubleValue", "arrayValue", "kvlistValue", "bytesValue"],
};

/** Every key of a search response that Grafana's strict decoder would refuse, as paths. */
function disallowedKeys(body: unknown): string[] {
	const bad: string[] = [];
	const check = (value: unknown, kind: string, path: string) => {
		if (typeof value !== "object" || value === null || Array.isArray(value)) {
			bad.push(`${path} (not an object)`);
			return;
		}
		for (const [key, child] of Object.entries(value)) {
			if (!ALLOWED[kind]!.includes(key)) {
				bad.push(`${path}.${key}`);
				continue;
			}
			const at = `${path}.${key}`;
			if (kind === "response" && key === "traces") (child as unknown[]).forEach((t, i) => check(t, "trace", `${at}[${i}]`));
			if (kind === "response" && key === "metrics") check(child, "metrics", at);
			if (kind === "trace" && key === "spanSets") (child as unknown[]).forEach((s, i) => check(s, "spanSet", `${at}[${i}]`));
			if (kind === "trace" && key === "spanSet") check(child, "spanSet", at);
			if (kind === "trace" && key === "serviceStats") for (const [service, stats] of Object.entries(child as object)) check(stats, "serviceStats", `${at}[${service}]`);
			if (kind === "spanSet" && key === "spans") (child as unknown[]).forEach((s, i) => check(s, "span", `${at}[${i}]`));
			if ((kind === "spanSet" || kind === "span") && key === "attributes") (child as unknown[]).forEach((kv, i) => check(kv, "keyValue", `${at}[${i}]`));
			if (kind === "keyValue" && key === "value") check(child, "anyValue", at);
		}
	};
	check(body, "response", "$");
	return bad;
}

async function search(q: string, headers: Record<string, string> = BEARER): Promise<{ traces?: Record<string, any>[] }> {
	const response = await fetch(`${server.url}/api/search?q=${encodeURIComponent(q)}&start=${Math.floor(Date.now() / 1000) - 3600}&end=${Math.ceil(Date.now() / 1000) + 60}`, { headers: { ...headers, accept: "application/json" } });
	expect(response.status).toBe(200);
	return (await response.json()) as { traces?: Record<string, any>[] };
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs: number): Promise<T> {
	const deadline = Date.now() + timeoutMs;
	for (;;) {
		const value = await probe();
		if (value !== undefined) return value;
		if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
		await new Promise((r) => setTimeout(r, 200));
	}
}

describe("Grafana's Tempo data source against wrangler dev", () => {
	it("the key checker fails on one extra key (so the search test below can fail)", () => {
		const good = { traces: [{ traceID: "ab", spanSets: [{ spans: [{ spanID: "cd", attributes: [{ key: "k", value: { stringValue: "v" } }] }], matched: 1 }], serviceStats: { svc: { spanCount: 1 } } }] };
		expect(disallowedKeys(good)).toEqual([]);
		expect(disallowedKeys({ ...good, extra: 1 })).toEqual(["$.extra"]);
		expect(disallowedKeys({ traces: [{ traceId: "ab" }] })).toEqual(["$.traces[0].traceId"]);
		expect(disallowedKeys({ traces: [{ spanSets: [{ spans: [{ spanID: "cd", kind: 2 }] }] }] })).toEqual(["$.traces[0].spanSets[0].spans[0].kind"]);
	});

	it("finds an SDK-exported trace while open and after finalization; reads it by id as protobuf", async () => {
		const exporter = new OTLPTraceExporter({ url: `${server.url}/v1/traces`, headers: BEARER });
		const provider = new BasicTracerProvider({ resource: resourceFromAttributes({ "service.name": "e2e-tempo" }), spanProcessors: [new SimpleSpanProcessor(exporter)] });
		const tracer = provider.getTracer("e2e");
		const root = tracer.startSpan("GET /checkout", { kind: SpanKind.SERVER, attributes: { "http.route": "/checkout", "http.response.status_code": 500 } });
		const traceId = root.spanContext().traceId;
		const child = tracer.startSpan("charge card", { kind: SpanKind.CLIENT, attributes: { "payment.provider": "acme-pay" } }, trace.setSpan(context.active(), root));
		child.setStatus({ code: SpanStatusCode.ERROR, message: "card declined" });
		child.end();
		await provider.forceFlush();
		const sentAt = Date.now();

		// Open (the root has not ended): listed by {} and matched on what arrived, within 5 s.
		const open = await until("open trace listed", async () => (await search("{}")).traces?.find((t) => t.traceID === traceId), 5_000);
		expect(Date.now() - sentAt).toBeLessThan(5_000);
		expect(open.rootServiceName).toBe("<root span not yet received>");
		const openMatch = await search('{span.payment.provider="acme-pay" && status=error}');
		expect(openMatch.traces?.map((t) => t.traceID)).toContain(traceId);

		root.end();
		await provider.forceFlush();
		// Finalized (after the 1.5 s quiet period): trace by id says complete.
		await until(
			"trace finalized",
			async () => {
				const response = await fetch(`${server.url}/api/v2/traces/${traceId}`, { headers: { ...BEARER, accept: "application/protobuf" } });
				const byId = fromBinary(TraceByIDResponseSchema, new Uint8Array(await response.arrayBuffer()));
				return byId.status === PartialStatus.COMPLETE ? true : undefined;
			},
			20_000,
		);
		const found = await until(
			"finalized trace found",
			async () => {
				const result = await search('{resource.service.name="e2e-tempo" && span.http.response.status_code=500}');
				return result.traces?.find((t) => t.traceID === traceId && t.rootTraceName === "GET /checkout") ? result : undefined;
			},
			20_000,
		);
		expect(disallowedKeys(found)).toEqual([]);
		// And the same body through a strict protobuf-JSON decoder of the generated tempopb schema.
		const decoded = fromJson(SearchResponseSchema, found as JsonValue);
		const hit = decoded.traces.find((t) => t.traceId === traceId)!;
		expect(hit.rootServiceName).toBe("e2e-tempo");
		expect(hit.spanSets[0]!.matched).toBe(1);
		expect(hit.spanSet!.spans[0]!.spanId).toMatch(/^[0-9a-f]{16}$/);
		expect(hit.serviceStats["e2e-tempo"]).toMatchObject({ spanCount: 2, errorCount: 1 });
		const raw = found.traces!.find((t) => t.traceID === traceId)!;
		expect(raw.traceID).toMatch(/^[0-9a-f]{32}$/);
		expect(typeof raw.startTimeUnixNano).toBe("string");
		expect(typeof raw.durationMs).toBe("number");
		expect(typeof raw.spanSets[0].spans[0].durationNanos).toBe("string");

		for (const headers of [BEARER, BASIC]) {
			const response = await fetch(`${server.url}/api/v2/traces/${traceId}`, { headers: { ...headers, accept: "application/protobuf" } });
			expect(response.status).toBe(200);
			const byId = fromBinary(TraceByIDResponseSchema, new Uint8Array(await response.arrayBuffer()));
			expect(byId.status).toBe(PartialStatus.COMPLETE);
			const spans = byId.trace!.resourceSpans.flatMap((rs) => rs.scopeSpans.flatMap((ss) => ss.spans));
			expect(spans.map((s) => s.name).sort()).toEqual(["GET /checkout", "charge card"]);
		}
	});

	it("puts on the wire what Grafana dereferences: resource with service.name, scope, status, empty root parent", async () => {
		const traceId = [...crypto.getRandomValues(new Uint8Array(16))].map((b) => b.toString(16).padStart(2, "0")).join("");
		const start = BigInt(Date.now()) * 1_000_000n;
		const bare = {
			resourceSpans: [
				{
					resource: {},
					scopeSpans: [
						{
							spans: [
								{ traceId, spanId: "1111111111111111", parentSpanId: "0000000000000000", name: "root", startTimeUnixNano: String(start), endTimeUnixNano: String(start + 1_000_000n) },
								{ traceId, spanId: "2222222222222222", parentSpanId: "1111111111111111", name: "child", startTimeUnixNano: String(start), endTimeUnixNano: String(start + 500_000n) },
							],
						},
					],
				},
			],
		};
		const posted = await fetch(`${server.url}/v1/traces`, { method: "POST", headers: { ...BEARER, "content-type": "application/json" }, body: JSON.stringify(bare) });
		expect(posted.status).toBe(200);
		// In upper case, as a user might paste it.
		const response = await fetch(`${server.url}/api/v2/traces/${traceId.toUpperCase()}`, { headers: { ...BASIC, accept: "application/protobuf" } });
		expect(response.status).toBe(200);
		const byId = fromBinary(TraceByIDResponseSchema, new Uint8Array(await response.arrayBuffer()));
		expect(byId.status).toBe(PartialStatus.PARTIAL);
		for (const rs of byId.trace!.resourceSpans) {
			expect(rs.resource?.attributes.find((a) => a.key === "service.name")?.value?.value).toEqual({ case: "stringValue", value: "unknown_service" });
			for (const ss of rs.scopeSpans) {
				expect(ss.scope).toBeDefined();
				for (const span of ss.spans) {
					expect(span.status).toBeDefined();
					if (span.name === "root") expect(span.parentSpanId).toHaveLength(0);
				}
			}
		}
		const miss = await fetch(`${server.url}/api/v2/traces/abc`, { headers: { ...BEARER, accept: "application/protobuf" } });
		expect(miss.status).toBe(404);
		const unauthenticated = await fetch(`${server.url}/api/search?q={}`);
		expect(unauthenticated.status).toBe(401);
		const echo = await fetch(`${server.url}/api/echo`, { headers: BASIC });
		expect(await echo.text()).toBe("echo");
	});
});
