// The streaming tail consumer in workerd. First with the runtime's own events: vitest.config.ts
// runs test/tail-fixtures/producer.js (a service-binding callee and a Durable Object behind it)
// with `streamingTails: ["trace-assembler"]`. Then with hand-made sequences shaped like the ones
// recorded from `wrangler dev`, for what a test cannot make the runtime do on demand (idle
// WebSockets, runaway logging, dropped events, malformed input). Every trace is read back through
// the real API.
import { describe, expect, it } from "vitest";
import { env } from "cloudflare:workers";
import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import worker from "../src/index";
import { tailCounters } from "../src/tail/consumer";
import { FLUSH_SPANS, MAX_ATTRIBUTES_PER_SPAN, MAX_BUFFERED_BYTES, MAX_EVENTS_PER_SPAN, MAX_TEXT } from "../src/tail/limits";
import type { Span } from "../src/gen/opentelemetry/proto/trace/v1/trace_pb";
import type { Env } from "../src/env";
import { finalizeNow, getTrace, postTraces, jsonRequest, randomHex, readTrace } from "./helpers";
import { invoke, open } from "./tail-invoke";

const hex = (bytes: Uint8Array) => [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
type AnyEvent = TailStream.EventType;
type Handler = TailStream.TailEventHandler;
const attr = (span: Pick<Span, "attributes">, key: string) => {
	const value = span.attributes.find((a) => a.key === key)?.value?.value;
	if (value?.case === "arrayValue") return value.value.values.map((v) => v.value.value);
	return value?.value;
};
const spansOf = async (traceId: string) => (await readTrace(traceId)).trace.resourceSpans.flatMap((rs) => rs.scopeSpans.flatMap((ss) => ss.spans.map((span) => ({ span, service: String(attr(rs.resource!, "service.name")) }))));
const fetchOnset = (spanId: string, headers: TailStream.Header[] = []): Omit<TailStream.Onset, "type"> => ({ spanId, executionModel: "stateless", scriptName: "shop", info: { type: "fetch", method: "GET", url: "https://shop.example/", headers } });

describe("streaming tail consumer", () => {
	it("assembles the runtime's own events of a Worker, its service-binding callee and its Durable Object under the external caller", async () => {
		const external = randomHex(16);
		const callerSpan = randomHex(8);
		const producer = (env as unknown as { TAIL_PRODUCER: Fetcher }).TAIL_PRODUCER;
		// The external caller exports its own span (TAIL_STITCH_EXTERNAL=verified merges under a span that exists).
		expect((await postTraces(jsonRequest([{ traceId: external, spanId: callerSpan, name: "POST /checkout", kind: 3, service: "browser" }]))).status).toBe(200);
		const response = await producer.fetch("https://shop.example/checkout?sold-out", { headers: { traceparent: `00-${external}-${callerSpan}-01` } });
		expect(response.status).toBe(503);
		await response.text();

		// The runtime streams the events after the fact: wait until all three invocations ended.
		const invocationsOf = async () => ((await getTrace(external)).status === 200 ? (await spansOf(external)).filter((s) => attr(s.span, "cloudflare.outcome")) : []);
		for (let deadline = Date.now() + 10_000; (await invocationsOf()).length < 3 && Date.now() < deadline; ) await scheduler.wait(50);
		await finalizeNow(external);
		const spans = await spansOf(external);
		const byId = new Map(spans.map((s) => [hex(s.span.spanId), s.span]));
		for (const { span } of spans) expect(hex(span.traceId)).toBe(external);
		const invocations = spans.filter((s) => attr(s.span, "faas.invocation_id")).map((s) => s.span);
		expect(invocations).toHaveLength(3);
		expect(attr(byId.get(callerSpan)!, "faas.invocation_id")).toBeUndefined();
		const ancestry = (span: Span | undefined): string[] => (span ? [...ancestry(byId.get(hex(span.parentSpanId))), span.name] : []);

		// The producer's invocation hangs under the external caller's span, its traceparent recorded.
		const root = invocations.find((s) => attr(s, "http.request.header.traceparent"))!;
		expect(hex(root.parentSpanId)).toBe(callerSpan);
		expect(attr(root, "http.request.header.traceparent")).toEqual([`00-${external}-${callerSpan}-01`]);
		expect(root).toMatchObject({ name: "fetch", kind: 2, status: { code: 2, message: "HTTP 503" } });
		expect(Object.fromEntries(["cloudflare.execution_model", "faas.trigger", "http.request.method", "url.full", "url.path", "http.response.status_code", "cloudflare.outcome"].map((k) => [k, attr(root, k)]))).toEqual({
			"cloudflare.execution_model": "stateless", "faas.trigger": "http", "http.request.method": "GET", "url.full": "https://shop.example/checkout?sold-out",
			"url.path": "/checkout", "http.response.status_code": 503n, "cloudflare.outcome": "ok",
		});
		expect(root.events.map((e) => [e.name, attr(e, "log.level"), attr(e, "log.message")])).toEqual([
			["log", "log", 'checkout {"sku":"sku-1"}'],
			["log", "warn", "reservation failed: sku-1 is sold out"],
		]);

		// The callee under the producer's service-binding fetch; the object under its
		// durable_object_subrequest, with its storage calls as children and its exception.
		const callee = invocations.find((s) => attr(s, "url.full") === "https://cart/items")!;
		expect(ancestry(callee)).toEqual(["POST /checkout", "fetch", "fetch", "fetch"]);
		const object = invocations.find((s) => attr(s, "cloudflare.execution_model") === "durableObject")!;
		expect(ancestry(object)).toEqual(["POST /checkout", "fetch", "durable_object_subrequest", "fetch", "fetch"]);
		expect(attr(object, "cloudflare.entrypoint")).toBe("Inventory");
		expect(attr(object, "cloudflare.durable_object.id")).toMatch(/^[0-9a-f]{64}$/);
		expect(attr(byId.get(hex(object.parentSpanId))!, "url.full")).toBe("https://inventory/reserve?sold-out");
		expect(spans.filter((s) => hex(s.span.parentSpanId) === hex(object.spanId)).map((s) => s.span.name)).toEqual(expect.arrayContaining(["durable_object_storage_get", "durable_object_storage_put"]));
		expect(attr(object, "cloudflare.outcome")).toBe("exception");
		expect(object.status).toMatchObject({ code: 2, message: "RangeError: sku-1 is sold out" });
		const [exception] = object.events;
		expect(exception!.name).toBe("exception");
		expect([attr(exception!, "exception.type"), attr(exception!, "exception.message")]).toEqual(["RangeError", "sku-1 is sold out"]);
		expect(attr(exception!, "exception.stacktrace")).toContain("producer.js");

		// The invocation's own trace now answers with a redirect to the caller's trace.
		const own = String(attr(root, "assembler.original_trace_id"));
		expect(own).not.toBe(external);
		expect((await getTrace(own)).headers.get("location")).toBe(`/v1/traces/${external}`);
	});

	it("turns recorded event sequences into one trace under the external caller, with the runtime's links", async () => {
		const external = randomHex(16);
		const callerSpan = randomHex(8);
		const trace = randomHex(16);
		const [producer, toCallee, callee, calleeFetch, toObject, objectFetch, object, put] = [randomHex(8), randomHex(8), randomHex(8), randomHex(8), randomHex(8), randomHex(8), randomHex(8), randomHex(8)];
		const doId = "8ba5e068ad7e81e40494b860ce1831ef304212cf8207ae3d0ed3f7dba2369cc4";

		// The external caller's own span arrives through OTLP.
		expect((await postTraces(jsonRequest([{ traceId: external, spanId: callerSpan, name: "GET /checkout", kind: 3, service: "browser" }]))).status).toBe(200);

		// The callee and the Durable Object finish first, as they do: they are called from inside.
		await invoke(trace, toCallee, { spanId: callee, executionModel: "stateless", scriptName: "cart", info: { type: "fetch", method: "GET", url: "https://cart/x", headers: [{ name: "traceparent", value: `00-${external}-${callerSpan}-01` }] } }, [
			[callee, { type: "spanOpen", name: "fetch", spanId: calleeFetch }],
			[calleeFetch, { type: "attributes", info: [{ name: "http.request.method", value: "GET" }, { name: "url.full", value: "http://127.0.0.1:1/" }] }],
			[calleeFetch, { type: "spanClose", outcome: "exception" }],
			[callee, { type: "return", info: { type: "fetch", statusCode: 200 } }],
			[callee, { type: "outcome", outcome: "ok", cpuTime: 1, wallTime: 12 }],
		]);
		await invoke(trace, objectFetch, { spanId: object, executionModel: "durableObject", entrypoint: "Obj", durableObjectId: doId, scriptName: "producer", info: { type: "fetch", method: "GET", url: "https://obj/y", headers: [] } }, [
			[object, { type: "spanOpen", name: "durable_object_storage_put", spanId: put }],
			[put, { type: "spanClose", outcome: "ok" }],
			[object, { type: "log", level: "log", message: ["in DO", { n: 1 }] }],
			[object, { type: "exception", name: "TypeError", message: "boom", stack: "at Obj.fetch (producer.js:3:9)" }],
			[object, { type: "return", info: { type: "fetch", statusCode: 500 } }],
			[object, { type: "outcome", outcome: "exception", cpuTime: 2, wallTime: 5 }],
		]);
		await invoke(trace, undefined, {
			spanId: producer, executionModel: "stateless", scriptName: "producer", scriptVersion: { id: "v-42" },
			info: { type: "fetch", method: "GET", url: "http://127.0.0.1:8811/checkout?x=1", cfJson: { colo: "AMS" }, headers: [{ name: "traceparent", value: `00-${external}-${callerSpan}-01` }, { name: "user-agent", value: "curl/8" }, { name: "accept", value: "*/*" }, { name: "cf-ray", value: "8f1e2d3c4b5a6978-AMS" }, { name: "authorization", value: "Bearer secret" }] },
		}, [
			[producer, { type: "log", level: "log", message: ["producer log", { a: 1 }] }],
			[producer, { type: "spanOpen", name: "fetch", spanId: toCallee }],
			[toCallee, { type: "attributes", info: [{ name: "http.response.status_code", value: 200n }] }],
			[toCallee, { type: "spanClose", outcome: "ok" }],
			[producer, { type: "spanOpen", name: "durable_object_subrequest", spanId: toObject }],
			[toObject, { type: "spanOpen", name: "fetch", spanId: objectFetch }],
			[objectFetch, { type: "spanClose", outcome: "ok" }],
			[toObject, { type: "attributes", info: [{ name: "objectId", value: doId }] }],
			[toObject, { type: "spanClose", outcome: "ok" }],
			[producer, { type: "return", info: { type: "fetch", statusCode: 200 } }],
			[producer, { type: "outcome", outcome: "ok", cpuTime: 3, wallTime: 40 }],
		]);

		await finalizeNow(external);
		const read = await spansOf(external);
		expect(read).toHaveLength(9);
		const byId = new Map(read.map((r) => [hex(r.span.spanId), r]));
		for (const { span } of read) expect(hex(span.traceId)).toBe(external);
		const parentOf = (id: string) => hex(byId.get(id)!.span.parentSpanId);
		expect(parentOf(producer)).toBe(callerSpan);
		expect(parentOf(toCallee)).toBe(producer);
		expect(parentOf(callee)).toBe(toCallee);
		expect(parentOf(calleeFetch)).toBe(callee);
		expect(parentOf(objectFetch)).toBe(toObject);
		expect(parentOf(object)).toBe(objectFetch);
		expect(parentOf(put)).toBe(object);

		const root = byId.get(producer)!;
		expect(root.service).toBe("producer");
		expect(root.span.name).toBe("fetch");
		expect(root.span.kind).toBe(2);
		expect(Object.fromEntries(["cloudflare.script_name", "cloudflare.execution_model", "faas.trigger", "http.request.method", "url.full", "url.path", "cloudflare.colo", "cloudflare.ray_id", "user_agent.original", "http.request.header.accept", "http.response.status_code", "cloudflare.outcome", "cloudflare.cpu_time_ms", "cloudflare.wall_time_ms", "cloudflare.script_version.id", "http.request.header.traceparent", "assembler.original_trace_id"].map((k) => [k, attr(root.span, k)]))).toEqual({
			"cloudflare.script_name": "producer", "cloudflare.execution_model": "stateless", "faas.trigger": "http", "http.request.method": "GET",
			"url.full": "http://127.0.0.1:8811/checkout?x=1", "url.path": "/checkout", "cloudflare.colo": "AMS", "cloudflare.ray_id": "8f1e2d3c4b5a6978-AMS",
			"user_agent.original": "curl/8", "http.request.header.accept": "*/*", "http.response.status_code": 200n,
			"cloudflare.outcome": "ok", "cloudflare.cpu_time_ms": 3n, "cloudflare.wall_time_ms": 40n, "cloudflare.script_version.id": "v-42",
			"http.request.header.traceparent": [`00-${external}-${callerSpan}-01`], "assembler.original_trace_id": trace,
		});
		// Headers other than the few Cloudflare records are never copied: they may carry credentials.
		expect(root.span.attributes.some((a) => a.key.includes("authorization"))).toBe(false);
		expect(root.span.events.map((e) => [e.name, attr(e, "log.message")])).toEqual([["log", 'producer log {"a":1}']]);
		expect(Number(root.span.endTimeUnixNano - root.span.startTimeUnixNano)).toBeGreaterThan(0);
		// A callee that inherited context does not record the forwarded header as its own caller.
		expect(attr(byId.get(callee)!.span, "http.request.header.traceparent")).toBeUndefined();
		expect(attr(byId.get(toObject)!.span, "objectId")).toBe(doId);
		expect(byId.get(calleeFetch)!.span.status).toMatchObject({ code: 2, message: "exception" });

		const objectSpan = byId.get(object)!.span;
		expect(attr(objectSpan, "cloudflare.durable_object.id")).toBe(doId);
		expect(attr(objectSpan, "cloudflare.entrypoint")).toBe("Obj");
		// The exception says what went wrong; the 500 and the outcome that follow do not overwrite it.
		expect(objectSpan.status).toMatchObject({ code: 2, message: "TypeError: boom" });
		const exception = objectSpan.events.find((e) => e.name === "exception")!;
		expect(["exception.type", "exception.message", "exception.stacktrace"].map((k) => attr(exception, k))).toEqual(["TypeError", "boom", "at Obj.fetch (producer.js:3:9)"]);

		expect((await getTrace(trace)).headers.get("location")).toBe(`/v1/traces/${external}`);
	});

	it("bounds what an invocation holds: events and attributes per span, text length, buffered bytes; and counts what it dropped", async () => {
		const trace = randomHex(16);
		const root = randomHex(8);
		const wide = randomHex(8);
		const logs: [string, AnyEvent][] = Array.from({ length: MAX_EVENTS_PER_SPAN + 20 }, (_, i) => [root, { type: "log", level: "info", message: [i === 0 ? "x".repeat(MAX_TEXT * 3) : `line ${i}`] }]);
		const manyAttributes = Array.from({ length: MAX_ATTRIBUTES_PER_SPAN + 10 }, (_, i) => ({ name: `custom.${i}`, value: i }));
		// Spans that stay open hold the buffer until the invocation ends: about 160 KB each, so a
		// handful fit, then a few more without their attributes, then none.
		const bigValue = "y".repeat(MAX_TEXT);
		const heavySpans = 2 * Math.ceil(MAX_BUFFERED_BYTES / (MAX_TEXT * 40)) + 20;
		const heavy: [string, AnyEvent][] = Array.from({ length: heavySpans }, () => randomHex(8)).flatMap((id): [string, AnyEvent][] => [
			[root, { type: "spanOpen", name: "heavy", spanId: id }],
			[id, { type: "attributes", info: Array.from({ length: 40 }, (_, i) => ({ name: `blob.${i}`, value: bigValue })) }],
		]);
		await invoke(trace, undefined, { spanId: root, executionModel: "stateless", scriptName: "chatty", info: { type: "scheduled", scheduledTime: new Date(), cron: "*/5 * * * *" } }, [
			...logs,
			[root, { type: "spanOpen", name: "wide", spanId: wide }],
			[wide, { type: "attributes", info: [...manyAttributes, { name: "long", value: "z".repeat(MAX_TEXT * 2) }] }],
			[wide, { type: "spanClose", outcome: "ok" }],
			...heavy,
			[root, { type: "outcome", outcome: "ok", cpuTime: 0, wallTime: 0 }],
		]);
		const spans = await spansOf(trace);
		const only = spans.find((s) => hex(s.span.spanId) === root)!.span;
		expect(only.name).toBe("scheduled");
		expect(attr(only, "faas.trigger")).toBe("timer");
		expect(attr(only, "faas.cron")).toBe("*/5 * * * *");
		expect(only.events).toHaveLength(MAX_EVENTS_PER_SPAN);
		expect(String(attr(only.events[0]!, "log.message")).length).toBe(MAX_TEXT + 1);
		const wideSpan = spans.find((s) => s.span.name === "wide")!.span;
		expect(wideSpan.attributes).toHaveLength(MAX_ATTRIBUTES_PER_SPAN);
		// Spans the runtime never closed end with the invocation, marked; those over the buffer are gone.
		const kept = spans.filter((s) => s.span.name === "heavy");
		expect(kept.length).toBeGreaterThan(0);
		expect(kept.length).toBeLessThan(heavySpans);
		for (const { span } of kept) expect(attr(span, "cloudflare.span_unclosed")).toBe(true);
		const keptBytes = kept.reduce((sum, { span }) => sum + span.attributes.reduce((n, a) => n + String(a.value?.value?.value ?? "").length, 0), 0);
		expect(keptBytes).toBeLessThanOrEqual(MAX_BUFFERED_BYTES);
		// 20 logs, 10 + 1 attributes (the long one is over the count) and every refused span or attribute.
		expect(Number(attr(only, "assembler.tail.dropped_events"))).toBeGreaterThan(20 + 11 + (heavySpans - kept.length));
	});

	it("sends closed spans of a long-lived invocation in batches before it ends, under its external caller at once", async () => {
		const trace = randomHex(16);
		const root = randomHex(8);
		const [external, callerSpan] = [randomHex(16), randomHex(8)];
		await postTraces(jsonRequest([{ traceId: external, spanId: callerSpan, kind: 3, service: "browser" }]));
		const invocation = open(trace, undefined, fetchOnset(root, [{ name: "traceparent", value: `00-${external}-${callerSpan}-01` }]));
		for (let i = 0; i < FLUSH_SPANS; i++) {
			const id = randomHex(8);
			await invocation.send([[root, { type: "spanOpen", name: "websocket_message", spanId: id }], [id, { type: "spanClose", outcome: "ok" }]]);
		}
		await waitOnExecutionContext(invocation.ctx);
		// The invocation is still open, but its closed spans are already readable, in the caller's
		// trace: the onset's traceparent joined the two before the span recording it was sent.
		const early = await readTrace(external);
		expect(early.status).toBe("partial");
		expect(early.trace.resourceSpans.flatMap((rs) => rs.scopeSpans.flatMap((ss) => ss.spans))).toHaveLength(FLUSH_SPANS + 1);

		await invocation.send([[root, { type: "outcome", outcome: "ok", cpuTime: 0, wallTime: 0 }]]);
		await waitOnExecutionContext(invocation.ctx);
		expect(await spansOf(external)).toHaveLength(FLUSH_SPANS + 2);
	});

	it("sends a closed span of an idle invocation after the flush interval, with no further event", async () => {
		const trace = randomHex(16);
		const [root, child] = [randomHex(8), randomHex(8)];
		const invocation = open(trace, undefined, fetchOnset(root), { ...env, TAIL_FLUSH_INTERVAL_MS: "50" });
		await invocation.send([[root, { type: "spanOpen", name: "durable_object_storage_get", spanId: child }], [child, { type: "spanClose", outcome: "ok" }]]);
		// Like a WebSocket that went quiet: the runtime sends nothing more for a while.
		await scheduler.wait(200);
		const early = await readTrace(trace);
		expect(early.status).toBe("partial");
		expect(early.trace.resourceSpans.flatMap((rs) => rs.scopeSpans.flatMap((ss) => ss.spans.map((s) => hex(s.spanId))))).toEqual([child]);

		await invocation.send([[root, { type: "outcome", outcome: "ok", cpuTime: 0, wallTime: 0 }]]);
		await waitOnExecutionContext(invocation.ctx);
		expect((await spansOf(trace)).map((s) => hex(s.span.spanId)).sort()).toEqual([child, root].sort());
	});

	it("applies span updates, names hibernated WebSocket handlers, counts the runtime's own drops, and keeps late attributes off other spans", async () => {
		const trace = randomHex(16);
		const [root, custom, closed] = [randomHex(8), randomHex(8), randomHex(8)];
		await invoke(trace, randomHex(8), { spanId: root, executionModel: "durableObject", scriptName: "room", entrypoint: "Room", info: { type: "hibernatableWebSocket", info: { type: "message" } } }, [
			[root, { type: "spanOpen", name: "custom", spanId: custom, info: { type: "attributes", info: [{ name: "room.id", value: "lobby" }] } }],
			[custom, { type: "spanUpdate", info: { type: "name", name: "broadcast" } }],
			[custom, { type: "spanUpdate", info: { type: "status", status: { code: "ok" } } }],
			[custom, { type: "spanClose", outcome: "ok" }],
			[root, { type: "spanOpen", name: "kv_get", spanId: closed }],
			[closed, { type: "spanClose", outcome: "ok" }],
			// Attributes and a rename for a span that already closed must not land on the invocation span.
			[closed, { type: "attributes", info: [{ name: "late", value: true }] }],
			[closed, { type: "spanUpdate", info: { type: "name", name: "renamed" } }],
			[root, { type: "streamDiagnostic", diagnostic: { diagnosticsType: "droppedEvents", count: 7 } }],
			[root, { type: "log", level: "error", message: "a message the runtime cut short", truncated: true }],
			[root, { type: "outcome", outcome: "ok", cpuTime: 0, wallTime: 0 }],
		]);
		const spans = new Map((await spansOf(trace)).map((s) => [hex(s.span.spanId), s.span]));
		const invocation = spans.get(root)!;
		expect(invocation.name).toBe("webSocketMessage");
		expect(attr(invocation, "cloudflare.handler_type")).toBe("hibernatableWebSocket");
		expect(spans.get(custom)).toMatchObject({ name: "broadcast", status: { code: 1 } });
		expect(attr(spans.get(custom)!, "room.id")).toBe("lobby");
		expect(spans.get(closed)!.name).toBe("kv_get");
		expect(attr(invocation, "late")).toBeUndefined();
		expect(invocation.name).not.toBe("renamed");
		expect(attr(invocation, "assembler.tail.runtime_dropped_events")).toBe(7n);
		expect(attr(invocation, "assembler.tail.dropped_events")).toBe(2n);
		expect([attr(invocation.events[0]!, "log.message"), attr(invocation.events[0]!, "log.truncated")]).toEqual(["a message the runtime cut short", true]);
	});

	it("never throws into the runtime: malformed onsets and events are logged and skipped", async () => {
		const ctx = createExecutionContext();
		const errorsBefore = tailCounters.conversionErrors;
		const bad = { invocationId: "x", spanContext: { traceId: "not-a-trace" }, timestamp: new Date(), sequence: 0, event: { type: "onset", spanId: "zz", executionModel: "stateless", info: { type: "fetch", method: "GET", url: "::", headers: [] } } } as unknown as TailStream.TailEvent<TailStream.Onset>;
		expect(worker.tailStream!(bad, env, ctx)).toBeUndefined();

		const trace = randomHex(16);
		const root = randomHex(8);
		const handler = worker.tailStream!({ invocationId: "y", spanContext: { traceId: trace }, timestamp: new Date(), sequence: 0, event: { type: "onset", spanId: root, executionModel: "stateless", scriptName: "odd", info: { type: "fetch", method: "GET", url: "not a url", headers: [{ name: "traceparent", value: "garbage" }] } } }, env, ctx) as Handler;
		const garbage = [
			{ type: "spanOpen", name: "x", spanId: "short" },
			{ type: "spanClose", outcome: "ok" },
			{ type: "attributes", info: null },
			{ type: "spanUpdate", info: { type: "status" } },
			{ type: "somethingNew", payload: 1 },
			{ type: "log", level: "log", message: { circular: undefined } },
			{ type: "exception", name: undefined, message: undefined },
			{ type: "streamDiagnostic" },
		];
		for (const event of garbage) {
			expect(() => handler({ invocationId: "y", spanContext: { traceId: trace, spanId: root }, timestamp: new Date(), sequence: 1, event } as unknown as TailStream.TailEvent<AnyEvent>)).not.toThrow();
		}
		expect(() => handler({ invocationId: "y", timestamp: "yesterday", sequence: 2, event: { type: "log", level: "log", message: ["no span context"] } } as unknown as TailStream.TailEvent<AnyEvent>)).not.toThrow();
		await handler({ invocationId: "y", spanContext: { traceId: trace, spanId: root }, timestamp: new Date(), sequence: 9, event: { type: "outcome", outcome: "ok", cpuTime: 0, wallTime: 0 } });
		await waitOnExecutionContext(ctx);
		const spans = await spansOf(trace);
		expect(spans.map((s) => s.span.name)).toEqual(["fetch"]);
		// A malformed traceparent is recorded as sent, but joins nothing.
		expect(attr(spans[0]!.span, "http.request.header.traceparent")).toEqual(["garbage"]);
		expect(hex(spans[0]!.span.traceId)).toBe(trace);
		// The bad onset and the events that could not be read were counted (and logged).
		expect(tailCounters.conversionErrors - errorsBefore).toBeGreaterThanOrEqual(3);
	});

	it("ignores every invocation when its configuration is bad, and says so", async () => {
		const ctx = createExecutionContext();
		const errorsBefore = tailCounters.conversionErrors;
		const handler = worker.tailStream!({ invocationId: "z", spanContext: { traceId: randomHex(16) }, timestamp: new Date(), sequence: 0, event: { type: "onset", ...fetchOnset(randomHex(8)) } as TailStream.Onset }, { ...env, TAIL_TENANT: "no spaces allowed" }, ctx);
		expect(handler).toBeUndefined();
		expect(tailCounters.conversionErrors - errorsBefore).toBe(1);
	});
});
