// End to end: `wrangler dev` runs a Worker instrumented only through @opentelemetry/api
// (test/otel-fixtures/shop.ts, `registerRuntimeTracing()` its whole setup), a Hono app with
// @hono/otel's middleware, and the assembler as their streaming tail consumer, in one session.
// The shop's spans (and its Durable Object's) read back as the runtime's one trace with the extras
// the bridge sent over the diagnostics channel; a call it makes over real HTTP (to its own URL: a new invocation with a
// trace of its own) joins that trace through the traceparent `propagation.inject` wrote.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { join, resolve } from "node:path";
import { freePort, startDevServer, type DevServer } from "../../scripts/lib/dev-server.ts";
import type { OtlpAnyValue, OtlpKeyValue, OtlpSpan, OtlpTracesData } from "../../src/otlp/json-types.ts";

const FIXTURES = resolve(import.meta.dirname, "fixtures/otel");
let server: DevServer;

beforeAll(async () => {
	const port = await freePort();
	server = await startDevServer({ port, configs: ["shop.toml", "catalog.toml", "assembler.toml"].map((config) => join(FIXTURES, config)), vars: { PAYMENTS_URL: `http://127.0.0.1:${port}` } });
});
afterAll(async () => {
	await server?.stop();
});

const plain = (v: OtlpAnyValue | undefined): unknown => (v?.arrayValue ? (v.arrayValue.values ?? []).map(plain) : (v?.stringValue ?? v?.intValue ?? v?.doubleValue ?? v?.boolValue));
const attrs = (item: { attributes?: OtlpKeyValue[] }) => Object.fromEntries((item.attributes ?? []).map((a) => [a.key, plain(a.value)]));

/** The names from the trace's root down to span `id`. */
function ancestry(byId: Map<string, OtlpSpan>, id: string | undefined): string[] {
	const span = id ? byId.get(id) : undefined;
	return span ? [...ancestry(byId, span.parentSpanId), span.name ?? ""] : [];
}

/** The stored trace once `count` invocations have ended and it finalized. */
async function finishedTrace(traceId: string, count: number): Promise<OtlpSpan[]> {
	const deadline = Date.now() + 30_000;
	for (;;) {
		const read = await fetch(`${server.url}/v1/traces/${traceId}`);
		if (read.status === 200) {
			const body = (await read.json()) as OtlpTracesData;
			const spans = (body.resourceSpans ?? []).flatMap((rs) => (rs.scopeSpans ?? []).flatMap((ss) => ss.spans ?? []));
			if (read.headers.get("x-trace-status") === "complete" && spans.filter((s) => attrs(s)["cloudflare.outcome"]).length >= count) return spans;
		} else await read.text();
		if (Date.now() > deadline) throw new Error(`trace ${traceId} did not complete with ${count} invocations`);
		await new Promise((r) => setTimeout(r, 250));
	}
}

describe("OpenTelemetry API code on the runtime's tracing, under wrangler dev", () => {
	it("stores the runtime's one trace with the OTel spans, their extras, and the HTTP callee joined", async () => {
		const response = await fetch(`${server.url}/checkout`);
		expect(response.status).toBe(200);
		const { registered, traceId, ids, paid } = (await response.json()) as { registered: boolean; traceId: string; ids: Record<string, string>; paid: { traceparent: string; charge: { traceId: string; spanId: string } } };
		expect(registered).toBe(true);
		expect(paid.traceparent).toBe(`00-${traceId}-${ids.checkout}-01`);
		expect(paid.charge.traceId).not.toBe(traceId); // the runtime started a trace of its own for the HTTP call

		const spans = await finishedTrace(traceId, 3);
		for (const span of spans) expect(span.traceId).toBe(traceId);
		const byId = new Map(spans.map((s) => [s.spanId, s]));
		const get = (id: string | undefined) => byId.get(id!)!;
		expect(spans.map((s) => s.name).sort()).toEqual(["audit", "charge", "checkout", "durable_object_storage_put", "durable_object_subrequest", "fetch", "fetch", "fetch", "fetch", "fetch", "ledger.write", "pricing", "reserve sku-2", "tax"]);
		// A Durable Object's OTel span: under its invocation, inside the caller's checkout span.
		expect(ancestry(byId, ids.ledger)).toEqual(["fetch", "checkout", "durable_object_subrequest", "fetch", "fetch", "ledger.write"]);
		expect([ids.checkout, ids.pricing, ids.tax, ids.reserve, ids.audit].map((id) => get(id).parentSpanId)).toEqual([ids.invocation, ids.checkout, ids.pricing, ids.checkout, ids.checkout]);
		const callee = spans.find((s) => attrs(s)["http.request.header.traceparent"])!;
		expect(callee.parentSpanId).toBe(ids.checkout);
		expect(get(paid.charge.spanId).parentSpanId).toBe(callee.spanId);

		const checkout = get(ids.checkout);
		expect(checkout.kind).toBe(2);
		expect(attrs(checkout)).toEqual({ "shop.cart_id": "c-42", "shop.items": "3", "shop.total": 42.5, "shop.express": true, "shop.skus": ["sku-1", "sku-2"], "shop.quantities": ["1", "2"], "shop.flags": [true, false] });
		expect((checkout.events ?? []).map((e) => [e.name, attrs(e)])).toEqual([["cart.loaded", { "cart.size": "3", "cart.skus": ["sku-1", "sku-2"] }]]);
		expect((get(ids.pricing).links ?? []).map((l) => [l.traceId, l.spanId, attrs(l)])).toEqual([["4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7", { "link.reason": "quote" }]]);
		expect((get(ids.tax).links ?? []).map((l) => l.spanId)).toEqual(["00f067aa0ba902b8"]);
		const reserve = get(ids.reserve);
		expect(reserve.status).toMatchObject({ code: 2, message: "sold out" });
		expect((reserve.events ?? []).map((e) => [e.name, attrs(e)["exception.type"]])).toEqual([["exception", "RangeError"]]);
		expect(get(ids.audit).status?.code ?? 0).toBe(0);
		expect(attrs(get(ids.invocation))["shop.tenant"]).toBe("acme");
		expect((get(ids.invocation).events ?? []).map((e) => e.name)).toEqual(["request.accepted"]);
	});

	it("records @hono/otel's server span under the invocation the runtime linked", async () => {
		const response = await fetch(`${server.url}/catalog/items/7`, { headers: { "x-tenant": "acme" } });
		expect(response.status).toBe(200);
		const { server: serverSpan, lookup } = (await response.json()) as { server: { traceId: string; spanId: string }; lookup: { spanId: string } };
		const spans = await finishedTrace(serverSpan.traceId, 2);
		const byId = new Map(spans.map((s) => [s.spanId, s]));
		const hono = byId.get(serverSpan.spanId)!;
		expect(hono.name).toBe("GET /items/:id");
		expect(hono.kind).toBe(2); // from the diagnostics channel, in a Worker without nodejs_compat
		expect(attrs(hono)).toMatchObject({ "http.route": "/items/:id", "http.response.status_code": "200", "http.request.header.x-tenant": "acme" });
		// The Hono Worker's invocation, under the shop's service-binding fetch, under the shop's invocation.
		expect(ancestry(byId, lookup.spanId)).toEqual(["fetch", "fetch", "fetch", "GET /items/:id", "catalog.lookup"]);
	});
});
