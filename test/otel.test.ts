// workers-trace-assembler/otel in workerd. First a Worker instrumented only through
// @opentelemetry/api (test/otel-fixtures/shop.ts, bundled by the workerd project's globalSetup),
// streamed by the runtime to the assembler's tail consumer: the stored trace is the runtime's one
// trace with exactly the spans, names, parents, kinds, attributes, events and links the code asked
// for, and a second Worker it calls over HTTP joins it. Then the bridge where the runtime has no
// tracing, or fails, and the consumer's handling of malformed or misplaced messages.
import { describe, expect, it } from "vitest";
import diagnostics from "node:diagnostics_channel";
import { env } from "cloudflare:workers";
import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { context, propagation, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Span as OtelSpan } from "@opentelemetry/api";
import worker from "../src/index";
import { OTEL_CHANNEL, readExtras } from "../src/otel/message";
import { TraceContextPropagator } from "../src/otel/propagator";
import { RuntimeContextManager } from "../src/otel/context-manager";
import { RuntimeTracer } from "../src/otel/tracer";
import { runtimeTracing, type RuntimeSpan, type RuntimeTracing } from "../src/otel/runtime";
import type { Span } from "../src/gen/opentelemetry/proto/trace/v1/trace_pb";
import { finalizeNow, getTrace, randomHex, readTrace } from "./helpers";

const hex = (bytes: Uint8Array) => [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
const value = (v: { value: { case?: string; value?: unknown } } | undefined): unknown => {
	const inner = v?.value;
	if (inner?.case === "arrayValue") return (inner.value as { values: { value: { case?: string; value?: unknown } }[] }).values.map((x) => x.value.value);
	return inner?.value;
};
const attrs = (item: Pick<Span, "attributes">) => Object.fromEntries(item.attributes.map((a) => [a.key, value(a.value as never)]));
const ms = (nanos: bigint) => Number(nanos / 1_000_000n);

interface Checkout {
	registered: boolean;
	traceId: string;
	ids: Record<"invocation" | "checkout" | "pricing" | "tax" | "reserve" | "audit" | "auditStart" | "ledger", string>;
	paid: { traceparent: string; charge: { traceId: string; spanId: string } };
}

async function storedSpans(traceId: string): Promise<Span[]> {
	const read = await readTrace(traceId);
	return read.trace.resourceSpans.flatMap((rs) => rs.scopeSpans.flatMap((ss) => ss.spans));
}

describe("OpenTelemetry API on the runtime's tracing", () => {
	it("stores an @opentelemetry/api-instrumented Worker as the runtime's one trace, with its HTTP callee joined", async () => {
		const shop = (env as unknown as { OTEL_SHOP: Fetcher }).OTEL_SHOP;
		const response = await shop.fetch("https://shop.example/checkout");
		expect(response.status).toBe(200);
		const { registered, traceId, ids, paid } = (await response.json()) as Checkout;
		expect(registered).toBe(true);

		// The callee got the runtime's trace id and the active OTel span (checkout) as its parent.
		expect(paid.traceparent).toBe(`00-${traceId}-${ids.checkout}-01`);
		// The invocations (the shop's, its Durable Object's, the HTTP callee's) stream after the fact:
		// wait until all three have ended.
		const invocationsOf = async () => ((await getTrace(traceId)).status === 200 ? (await storedSpans(traceId)).filter((s) => attrs(s)["cloudflare.outcome"]) : []);
		for (let deadline = Date.now() + 10_000; (await invocationsOf()).length < 3 && Date.now() < deadline; ) await scheduler.wait(50);
		await finalizeNow(traceId);
		const spans = await storedSpans(traceId);
		for (const span of spans) expect(hex(span.traceId)).toBe(traceId);
		const byId = new Map(spans.map((s) => [hex(s.spanId), s]));
		const get = (id: string) => byId.get(id)!;

		// Exactly: the shop's invocation, its OTel spans, its Durable Object call and outgoing fetch;
		// the object's invocation, its OTel span and storage call; the payments Worker's invocation
		// and its charge span.
		const shopInvocation = get(ids.invocation);
		const payments = spans.find((s) => attrs(s)["url.full"] === "http://payments.example/pay" && attrs(s)["faas.invocation_id"])!;
		const outgoing = spans.find((s) => attrs(s)["url.full"] === "http://payments.example/pay" && s !== payments)!;
		const charge = get(paid.charge.spanId);
		expect(spans.map((s) => s.name).sort()).toEqual(["audit", "charge", "checkout", "durable_object_storage_put", "durable_object_subrequest", "fetch", "fetch", "fetch", "fetch", "fetch", "ledger.write", "pricing", "reserve sku-2", "tax"]);
		const parent = (s: Span) => hex(s.parentSpanId);
		// The object's OTel span under its own invocation, inside the caller's checkout span; the
		// runtime's storage span under the OTel span.
		const ancestry = (s: Span | undefined): string[] => (s ? [...ancestry(byId.get(parent(s))), s.name] : []);
		expect(ancestry(get(ids.ledger))).toEqual(["fetch", "checkout", "durable_object_subrequest", "fetch", "fetch", "ledger.write"]);
		expect(spans.filter((s) => parent(s) === ids.ledger).map((s) => s.name)).toEqual(["durable_object_storage_put"]);
		expect(attrs(get(ids.ledger))["ledger.entries"]).toEqual(["c-42"]);
		expect({
			checkout: parent(get(ids.checkout)),
			pricing: parent(get(ids.pricing)),
			tax: parent(get(ids.tax)),
			reserve: parent(get(ids.reserve)),
			audit: parent(get(ids.audit)),
			outgoing: parent(outgoing),
			payments: parent(payments),
			charge: parent(charge),
		}).toEqual({
			checkout: ids.invocation,
			pricing: ids.checkout,
			// The detached span made active with context.with is its parent, though the runtime (no
			// withActiveSpan) nested it under checkout.
			tax: ids.pricing,
			reserve: ids.checkout,
			audit: ids.checkout,
			outgoing: ids.checkout,
			// The HTTP callee's own trace, merged under the caller's span its traceparent named.
			payments: ids.checkout,
			charge: hex(payments.spanId),
		});
		expect(attrs(payments)["http.request.header.traceparent"]).toEqual([paid.traceparent]);
		expect(attrs(charge)["assembler.original_trace_id"]).toBe(paid.charge.traceId);

		// Kinds (OTLP numbering: internal 1, server 2, client 3).
		expect([ids.checkout, ids.pricing, ids.tax, ids.reserve, ids.audit].map((id) => get(id).kind)).toEqual([2, 1, 1, 3, 1]);
		expect(charge.kind).toBe(2);

		// Attributes of every type, arrays as arrays (the runtime itself only takes scalars).
		expect(attrs(get(ids.checkout))).toEqual({
			"shop.cart_id": "c-42",
			"shop.items": 3n,
			"shop.total": 42.5,
			"shop.express": true,
			"shop.skus": ["sku-1", "sku-2"],
			"shop.quantities": [1n, 2n],
			"shop.flags": [true, false],
		});
		expect(get(ids.checkout).status).toMatchObject({ code: 1 });
		expect(get(ids.checkout).events.map((e) => [e.name, attrs(e)])).toEqual([["cart.loaded", { "cart.size": 3n, "cart.skus": ["sku-1", "sku-2"] }]]);
		expect(attrs(charge)).toMatchObject({ "payment.amount": 42.5 });

		// Links from the links option and from addLink; events on a detached span.
		const links = (s: Span) => s.links.map((l) => [hex(l.traceId), hex(l.spanId), attrs(l)]);
		expect(links(get(ids.pricing))).toEqual([["4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7", { "link.reason": "quote" }]]);
		expect(links(get(ids.tax))).toEqual([["4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b8", {}]]);
		expect(get(ids.pricing).events.map((e) => e.name)).toEqual(["priced"]);
		expect(get(ids.tax).events).toEqual([]);

		// Renamed, with the exception recorded and the error status set.
		const reserve = get(ids.reserve);
		expect(reserve.status).toMatchObject({ code: 2, message: "sold out" });
		expect(reserve.events.map((e) => [e.name, attrs(e)["exception.type"], attrs(e)["exception.message"]])).toEqual([["exception", "RangeError", "sku-2 is sold out"]]);
		expect(String(attrs(reserve.events[0]!)["exception.stacktrace"])).toContain("RangeError: sku-2 is sold out");

		// An exception recorded without setStatus leaves the status unset; explicit times are kept.
		const audit = get(ids.audit);
		expect(audit.status?.code ?? 0).toBe(0);
		expect(audit.events.map((e) => [e.name, attrs(e)["exception.message"]])).toEqual([["exception", "audit log unavailable"]]);
		expect([ms(audit.startTimeUnixNano), ms(audit.endTimeUnixNano)]).toEqual([Number(ids.auditStart), Number(ids.auditStart) + 5]);

		// The invocation's own span took an attribute (through the runtime) and an event (through the channel).
		expect(attrs(shopInvocation)["shop.tenant"]).toBe("acme");
		expect(shopInvocation.events.map((e) => [e.name, attrs(e)])).toEqual([["request.accepted", { "shop.queue": ["web"] }]]);
		expect(attrs(shopInvocation)["assembler.tail.dropped_events"]).toBeUndefined();
	});
});

describe("a maintained instrumentation package through the bridge", () => {
	it("records @hono/otel's server spans as runtime spans, a handler's span under them, errors with their exception", async () => {
		const hono = (env as unknown as { OTEL_HONO: Fetcher }).OTEL_HONO;
		const ok = (await (await hono.fetch("https://catalog.example/items/7", { headers: { "x-tenant": "acme" } })).json()) as { server: { traceId: string; spanId: string }; lookup: { spanId: string } };
		const broken = await hono.fetch("https://catalog.example/broken");
		expect(broken.status).toBe(500);
		const failed = (await broken.json()) as { server: { traceId: string; spanId: string } };
		const traces = [ok.server.traceId, failed.server.traceId];
		const ended = async (traceId: string) => (await getTrace(traceId)).status === 200 && (await storedSpans(traceId)).some((s) => attrs(s)["cloudflare.outcome"]);
		for (let deadline = Date.now() + 10_000; !(await ended(traces[0]!) && (await ended(traces[1]!))) && Date.now() < deadline; ) await scheduler.wait(50);
		for (const traceId of traces) await finalizeNow(traceId);

		const spans = await storedSpans(ok.server.traceId);
		expect(spans.map((s) => s.name).sort()).toEqual(["GET /items/:id", "catalog.lookup", "fetch"]);
		const server = spans.find((s) => hex(s.spanId) === ok.server.spanId)!;
		const invocation = spans.find((s) => s.name === "fetch")!;
		expect(hex(server.parentSpanId)).toBe(hex(invocation.spanId));
		expect(server.kind).toBe(2);
		expect(attrs(server)).toMatchObject({ "http.request.method": "GET", "url.full": "https://catalog.example/items/7", "http.route": "/items/:id", "http.response.status_code": 200n, "http.request.header.x-tenant": "acme", "service.name": "catalog" });
		expect(hex(spans.find((s) => s.name === "catalog.lookup")!.parentSpanId)).toBe(ok.server.spanId);
		expect(hex(spans.find((s) => s.name === "catalog.lookup")!.spanId)).toBe(ok.lookup.spanId);

		const failedServer = (await storedSpans(failed.server.traceId)).find((s) => hex(s.spanId) === failed.server.spanId)!;
		expect(failedServer.name).toBe("GET /broken");
		expect(failedServer.status?.code).toBe(2);
		expect(failedServer.events.map((e) => [e.name, attrs(e)["exception.type"], attrs(e)["exception.message"]])).toEqual([["exception", "TypeError", "catalog offline"]]);
	});
});

describe("tracedFetch without any OpenTelemetry setup", () => {
	it("propagates the runtime's active span, so the HTTP callee joins the caller's trace", async () => {
		const plain = (env as unknown as { OTEL_PLAIN: Fetcher }).OTEL_PLAIN;
		const { runtime, traceparent } = (await (await plain.fetch("https://plain.example/")).json()) as { runtime: { traceId: string; spanId: string }; traceparent: string };
		expect(traceparent).toBe(`00-${runtime.traceId}-${runtime.spanId}-01`);
		const joined = async () => (await getTrace(runtime.traceId)).status === 200 && (await storedSpans(runtime.traceId)).filter((s) => attrs(s)["cloudflare.outcome"]).length === 2;
		for (let deadline = Date.now() + 10_000; !(await joined()) && Date.now() < deadline; ) await scheduler.wait(50);
		await finalizeNow(runtime.traceId);
		const spans = await storedSpans(runtime.traceId);
		const callee = spans.find((s) => attrs(s)["http.request.header.traceparent"])!;
		expect(hex(callee.parentSpanId)).toBe(runtime.spanId);
		expect(spans.some((s) => s.name === "charge" && hex(s.parentSpanId) === hex(callee.spanId))).toBe(true);
	});
});

/** A runtime tracing API that records what it is asked, or throws on every call. */
function fakeTracing(mode: "record" | "throw") {
	const calls: string[] = [];
	let next = 1;
	const span = (name: string): RuntimeSpan => {
		const spanId = (next++).toString(16).padStart(16, "0");
		const fail = (what: string) => {
			calls.push(`${name}.${what}`);
			if (mode === "throw") throw new Error(`${what} refused`);
		};
		return {
			isTraced: true,
			spanContext: () => (fail("spanContext"), { traceId: "ab".repeat(16), spanId, traceFlags: 0 }),
			setAttribute: () => fail("setAttribute"),
			setStatus: () => fail("setStatus"),
			updateName: () => fail("updateName"),
			recordException: () => fail("recordException"),
			end: () => fail("end"),
		};
	};
	const root = span("root");
	const tracing: RuntimeTracing = {
		startSpan: (name) => (calls.push(`startSpan ${name}`), mode === "throw" ? (() => { throw new Error("no"); })() : span(name)),
		startActiveSpan: (name, callback) => {
			calls.push(`startActiveSpan ${name}`);
			if (mode === "throw") throw new Error("no");
			return callback(span(name));
		},
		getActiveSpan: () => (mode === "throw" ? (() => { throw new Error("no"); })() : root),
	};
	return { tracing, calls };
}

function exercise(tracer: RuntimeTracer): { result: string; calls: number; spans: OtelSpan[] } {
	let calls = 0;
	const spans: OtelSpan[] = [];
	const result = tracer.startActiveSpan("outer", { kind: SpanKind.SERVER, attributes: { a: [1, 2] }, links: [{ context: { traceId: "cd".repeat(16), spanId: "ef".repeat(8), traceFlags: 1 } }] }, ROOT_CONTEXT, (outer) => {
		calls++;
		spans.push(outer);
		const inner = tracer.startSpan("inner", { startTime: [1, 0] });
		spans.push(inner);
		for (const span of [outer, inner]) {
			span.setAttribute("s", "x").setAttribute("o", { nested: true } as never).setAttributes({ b: true, n: [true] });
			span.addEvent("e", { k: 1 }).addEvent("t", Date.now()).addLink({ context: outer.spanContext() });
			span.setStatus({ code: SpanStatusCode.ERROR, message: "m" }).updateName("renamed");
			span.recordException(new Error("boom"));
			span.recordException("text");
			span.end(new Date());
			span.end();
		}
		return "done";
	});
	return { result, calls, spans };
}

describe("the bridge never breaks the Worker it instruments", () => {
	it("is a no-op without runtime tracing: fn runs once, spans are non-recording", () => {
		const { result, calls, spans } = exercise(new RuntimeTracer(undefined));
		expect([result, calls]).toEqual(["done", 1]);
		for (const span of spans) expect(span.isRecording()).toBe(false);
	});

	it("is a no-op in an invocation the runtime does not trace (the test runner's own)", () => {
		// Here the runtime has `tracing`, but no active span, and startSpan gives zero ids, untraced.
		const tracing = runtimeTracing();
		expect(tracing).toBeDefined();
		expect(tracing!.getActiveSpan()).toBeUndefined();
		const { result, calls, spans } = exercise(new RuntimeTracer(tracing));
		expect([result, calls]).toEqual(["done", 1]);
		for (const span of spans) expect([span.isRecording(), trace.isSpanContextValid(span.spanContext())]).toEqual([false, false]);
		expect(trace.getSpan(new RuntimeContextManager(tracing).active())).toBeUndefined();
	});

	it("survives a runtime whose every call throws", () => {
		const { tracing, calls: runtimeCalls } = fakeTracing("throw");
		const { result, calls, spans } = exercise(new RuntimeTracer(tracing));
		expect([result, calls]).toEqual(["done", 1]);
		for (const span of spans) expect(span.isRecording()).toBe(false);
		expect(runtimeCalls).toEqual([]);
		// The context manager too: active() and with() fall back to plain contexts.
		const manager = new RuntimeContextManager(tracing);
		expect(trace.getSpan(manager.active())).toBeUndefined();
		expect(manager.with(ROOT_CONTEXT, (x: number) => x + 1, undefined, 1)).toBe(2);
	});

	it("maps span calls onto the runtime and passes fn's own exception through untouched", () => {
		const { tracing, calls: runtimeCalls } = fakeTracing("record");
		const { result, spans } = exercise(new RuntimeTracer(tracing));
		expect(result).toBe("done");
		expect(spans.map((s) => s.spanContext().traceId)).toEqual(["ab".repeat(16), "ab".repeat(16)]);
		// Sampled: the runtime traces the span even though its traceFlags say 0.
		expect(spans[0]!.spanContext().traceFlags).toBe(1);
		expect(runtimeCalls.filter((c) => c.startsWith("outer."))).toEqual([
			"outer.spanContext", "outer.setAttribute", "outer.setAttribute", "outer.setAttribute", "outer.setAttribute", "outer.setAttribute",
			"outer.setStatus", "outer.updateName", "outer.recordException", "outer.recordException", "outer.end",
		]);
		for (const span of spans) expect(span.isRecording()).toBe(false); // ended
		const tracer = new RuntimeTracer(tracing);
		const failure = new TypeError("fn failed");
		let ran = 0;
		expect(() => tracer.startActiveSpan("x", () => {
			ran++;
			throw failure;
		})).toThrow(failure);
		expect(ran).toBe(1);
	});

	it("publishes one version-1 message per span on the channel, as the README describes it", () => {
		const messages: unknown[] = [];
		const listen = (message: unknown) => messages.push(message);
		diagnostics.subscribe(OTEL_CHANNEL, listen);
		try {
			exercise(new RuntimeTracer(fakeTracing("record").tracing));
		} finally {
			diagnostics.unsubscribe(OTEL_CHANNEL, listen);
		}
		const [outer, inner] = messages as Record<string, unknown>[];
		expect(messages).toHaveLength(2);
		expect(outer).toEqual({
			v: 1,
			span: "0000000000000002",
			kind: "server",
			attributes: { a: [1, 2], n: [true] },
			links: [{ traceId: "cd".repeat(16), spanId: "ef".repeat(8) }, { traceId: "ab".repeat(16), spanId: "0000000000000002" }],
			events: [{ name: "e", time: expect.any(Number), attributes: { k: 1 } }, { name: "t", time: expect.any(Number) }],
			status: { code: "error", message: "m" },
			end: expect.any(Number),
		});
		expect(inner).toMatchObject({ v: 1, span: "0000000000000003", kind: "internal", start: 1_000 });
		// What the consumer reads back is the message itself.
		expect(readExtras(outer)).toEqual(outer);
	});

	it("makes a span active in the runtime with withActiveSpan where the runtime has it", () => {
		const { tracing } = fakeTracing("record");
		const activated: string[] = [];
		let active = tracing.getActiveSpan()!;
		const withActive: RuntimeTracing = {
			...tracing,
			getActiveSpan: () => active,
			withActiveSpan: (span, callback) => {
				activated.push(span.spanContext().spanId);
				const previous = active;
				active = span;
				try {
					return callback();
				} finally {
					active = previous;
				}
			},
		};
		const manager = new RuntimeContextManager(withActive);
		const tracer = new RuntimeTracer(withActive);
		const detached = tracer.startSpan("detached", {}, manager.active());
		const id = detached.spanContext().spanId;
		const seen = manager.with(trace.setSpan(ROOT_CONTEXT, detached), () => tracer.startSpan("child", {}, manager.active()));
		expect(activated).toEqual([id]);
		// Already the runtime's active span: no second activation.
		manager.with(trace.setSpan(ROOT_CONTEXT, detached), () => manager.with(trace.setSpan(ROOT_CONTEXT, detached), () => undefined));
		expect(activated).toEqual([id, id]);
		expect(seen.isRecording()).toBe(true);
	});

	it("propagates W3C trace context: inject writes the span's ids, extract gives a remote parent", () => {
		const propagator = new TraceContextPropagator();
		const carrier: Record<string, string> = {};
		const span = trace.wrapSpanContext({ traceId: "ab".repeat(16), spanId: "cd".repeat(8), traceFlags: 1 });
		propagator.inject(trace.setSpan(ROOT_CONTEXT, span), carrier, { set: (c, k, v) => ((c as Record<string, string>)[k] = v) });
		expect(carrier).toEqual({ traceparent: `00-${"ab".repeat(16)}-${"cd".repeat(8)}-01` });
		const getter = { get: (c: unknown, k: string) => (c as Record<string, string>)[k], keys: (c: unknown) => Object.keys(c as object) };
		const extracted = trace.getSpanContext(propagator.extract(ROOT_CONTEXT, { ...carrier, tracestate: "vendor=1" }, getter));
		expect(extracted).toMatchObject({ traceId: "ab".repeat(16), spanId: "cd".repeat(8), traceFlags: 1, isRemote: true });
		expect(extracted!.traceState!.get("vendor")).toBe("1");
		expect(propagator.extract(ROOT_CONTEXT, { traceparent: "00-zz-01" }, getter)).toBe(ROOT_CONTEXT);
		// Nothing to inject outside a span; the global API is untouched by these tests.
		propagator.inject(ROOT_CONTEXT, carrier, { set: () => expect.unreachable() });
		expect(propagation.fields()).toEqual([]);
		expect(context.active()).toBe(ROOT_CONTEXT);
	});
});

describe("the consumer's reading of bridge messages", () => {
	it("keeps only well-formed parts of a version-1 message", () => {
		expect(readExtras({ v: 2, span: "ab".repeat(8) })).toBeUndefined();
		expect(readExtras({ v: 1, span: "0".repeat(16) })).toBeUndefined();
		expect(readExtras("[[ Diagnostic event was not serializable ]]")).toBeUndefined();
		expect(readExtras({
			v: 1, span: "AB".repeat(8), kind: "sideways", parent: "xyz", start: -1, end: Number.NaN, status: { code: "fine" },
			attributes: { ok: 1, list: [1, { no: 1 }, "two"], obj: { no: 1 } },
			events: [{ name: "e", time: 5 }, { name: 3, time: 5 }, { name: "no time" }],
			links: [{ traceId: "ab".repeat(16), spanId: "cd".repeat(8), traceState: "" }, { traceId: "short", spanId: "cd".repeat(8) }],
			dropped: 2.5,
		})).toEqual({ v: 1, span: "ab".repeat(8), attributes: { ok: 1, list: [1, "two"] }, events: [{ name: "e", time: 5 }], links: [{ traceId: "ab".repeat(16), spanId: "cd".repeat(8) }] });
	});

	it("applies messages to the span they name, and counts those for spans it does not hold", async () => {
		const traceId = randomHex(16);
		const [root, a, b] = [randomHex(8), randomHex(8), randomHex(8)];
		const ctx = createExecutionContext();
		let clock = Date.now();
		let sequence = 0;
		const tail = (spanId: string, event: TailStream.EventType) => ({ invocationId: "i1", spanContext: { traceId, spanId }, timestamp: new Date((clock += 3)), sequence: sequence++, event }) as TailStream.TailEvent<TailStream.EventType>;
		const handler = worker.tailStream!(tail(undefined as never, { type: "onset", spanId: root, executionModel: "stateless", scriptName: "w", info: { type: "fetch", method: "GET", url: "https://w/", headers: [] } } as TailStream.Onset) as TailStream.TailEvent<TailStream.Onset>, env, ctx) as TailStream.TailEventHandler;
		const message = (spanId: string, body: unknown) => ({ type: "diagnosticChannel", channel: OTEL_CHANNEL, message: body }) as unknown as TailStream.EventType;
		for (const [under, event] of [
			[root, { type: "spanOpen", name: "a", spanId: a }],
			[a, { type: "spanOpen", name: "b", spanId: b }],
			// recordException reaches the consumer at once, the bridge's events when the span ends: the
			// stored events are in time order all the same.
			[a, { type: "exception", name: "Error", message: "recorded" }],
			// Published while b is active, about a: the message's own span decides.
			[b, message(b, { v: 1, span: a, kind: "producer", end: 1_000, status: { code: "ok" }, attributes: { tags: ["x", "y"] }, events: [{ name: "sent", time: 900 }] })],
			[b, { type: "attributes", info: [{ name: "tags", value: '["x","y"]' }, { name: "plain", value: 1 }] }],
			[b, { type: "spanClose", outcome: "ok" }],
			[a, { type: "attributes", info: [{ name: "tags", value: '["x","y"]' }] }],
			[a, { type: "spanClose", outcome: "ok" }],
			// About a closed span, another channel, another version: ignored (the first counted).
			[root, message(root, { v: 1, span: b, events: [{ name: "late", time: 5 }] })],
			[root, { type: "diagnosticChannel", channel: "someone.else", message: { v: 1, span: root } }],
			[root, message(root, { v: 9, span: root, kind: "server" })],
			[root, { type: "outcome", outcome: "ok", cpuTime: 0, wallTime: 1 }],
		] as [string, TailStream.EventType][]) await handler(tail(under, event));
		await waitOnExecutionContext(ctx);
		await finalizeNow(traceId);
		const byName = new Map((await storedSpans(traceId)).map((s) => [s.name, s]));
		const spanA = byName.get("a")!;
		expect(spanA.kind).toBe(4); // producer
		expect(ms(spanA.endTimeUnixNano)).toBe(1_000);
		expect(attrs(spanA)).toEqual({ tags: ["x", "y"] });
		expect(spanA.status).toMatchObject({ code: 1 }); // the final OTel status, not the exception's error
		expect(spanA.events.map((e) => e.name)).toEqual(["sent", "exception"]);
		expect(attrs(byName.get("b")!)).toEqual({ tags: '["x","y"]', plain: 1n });
		expect(byName.get("b")!.kind).toBe(3); // runtime spans stay client spans
		expect(attrs(byName.get("fetch")!)["assembler.tail.dropped_events"]).toBe(2n);
	});
});
