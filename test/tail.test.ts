// The streaming tail consumer in workerd: event sequences shaped like the ones workerd streams
// (recorded from `wrangler dev` with a producer Worker calling a service binding and a Durable
// Object) become spans in the per-trace objects, stitched under the external caller, readable
// through the API.
import { describe, expect, it } from "vitest";
import { env } from "cloudflare:workers";
import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import worker from "../src/index";
import { FLUSH_SPANS, tailCounters } from "../src/tail/consumer";
import { MAX_EVENTS_PER_SPAN, MAX_TEXT } from "../src/tail/invocation";
import type { Span } from "../src/gen/opentelemetry/proto/trace/v1/trace_pb";
import { finalizeNow, getTrace, postTraces, jsonRequest, randomHex, readTrace } from "./helpers";

const hex = (bytes: Uint8Array) => [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
type AnyEvent = TailStream.EventType;

/** Streams one invocation through the consumer as the runtime would, then waits for its flushes. */
async function invoke(traceId: string, parentSpanId: string | undefined, onset: Omit<TailStream.Onset, "type">, events: [spanId: string, event: AnyEvent][]): Promise<void> {
	const ctx = createExecutionContext();
	const invocationId = randomHex(16);
	let sequence = 0;
	let clock = Date.now();
	const tail = <E extends AnyEvent>(spanId: string | undefined, event: E): TailStream.TailEvent<E> => ({
		invocationId,
		spanContext: { traceId, ...(spanId ? { spanId } : {}) },
		timestamp: new Date((clock += 3)),
		sequence: sequence++,
		event,
	});
	const handler = worker.tailStream!(tail(parentSpanId, { type: "onset", ...onset } as TailStream.Onset), env, ctx);
	expect(typeof handler).toBe("function");
	for (const [spanId, event] of events) await (handler as TailStream.TailEventHandler)(tail(spanId, event));
	await waitOnExecutionContext(ctx);
}

const attr = (span: Span, key: string) => {
	const value = span.attributes.find((a) => a.key === key)?.value?.value;
	if (value?.case === "arrayValue") return value.value.values.map((v) => v.value.value);
	return value?.value;
};
const spansOf = async (traceId: string) => (await readTrace(traceId)).trace.resourceSpans.flatMap((rs) => rs.scopeSpans.flatMap((ss) => ss.spans.map((span) => ({ span, service: String(attr({ attributes: rs.resource!.attributes } as Span, "service.name")) }))));

describe("streaming tail consumer", () => {
	it("turns a producer, its service-binding callee and its Durable Object into one trace under the external caller", async () => {
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
			[object, { type: "log", level: "log", message: ["[producer]", "in DO", { n: 1 }] }],
			[object, { type: "exception", name: "TypeError", message: "boom", stack: "at Obj.fetch (producer.js:3:9)" }],
			[object, { type: "return", info: { type: "fetch", statusCode: 500 } }],
			[object, { type: "outcome", outcome: "exception", cpuTime: 2, wallTime: 5 }],
		]);
		await invoke(trace, undefined, {
			spanId: producer, executionModel: "stateless", scriptName: "producer", scriptVersion: { id: "v-42" },
			info: { type: "fetch", method: "GET", url: "http://127.0.0.1:8811/checkout?x=1", cfJson: { colo: "AMS" }, headers: [{ name: "traceparent", value: `00-${external}-${callerSpan}-01` }, { name: "user-agent", value: "curl/8" }] },
		}, [
			[producer, { type: "log", level: "log", message: ["[producer]", "producer log", { a: 1 }] }],
			[producer, { type: "spanOpen", name: "fetch", spanId: toCallee }],
			[toCallee, { type: "attributes", info: [{ name: "http.response.status_code", value: "200" }] }],
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
		// The producer's invocation hangs under the external caller; the runtime's own links stay.
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
		expect(Object.fromEntries(["cloudflare.script_name", "cloudflare.execution_model", "faas.trigger", "http.request.method", "url.full", "url.path", "cloudflare.colo", "http.response.status_code", "cloudflare.outcome", "cloudflare.wall_time_ms", "cloudflare.script_version.id", "http.request.header.traceparent", "assembler.original_trace_id"].map((k) => [k, attr(root.span, k)]))).toEqual({
			"cloudflare.script_name": "producer", "cloudflare.execution_model": "stateless", "faas.trigger": "http", "http.request.method": "GET",
			"url.full": "http://127.0.0.1:8811/checkout?x=1", "url.path": "/checkout", "cloudflare.colo": "AMS", "http.response.status_code": 200n,
			"cloudflare.outcome": "ok", "cloudflare.wall_time_ms": 40n, "cloudflare.script_version.id": "v-42",
			"http.request.header.traceparent": [`00-${external}-${callerSpan}-01`], "assembler.original_trace_id": trace,
		});
		expect(root.span.events.map((e) => [e.name, attr(e as unknown as Span, "log.message")])).toEqual([["log", '[producer] producer log {"a":1}']]);
		expect(Number(root.span.endTimeUnixNano - root.span.startTimeUnixNano)).toBeGreaterThan(0);
		// A callee that inherited context does not record the forwarded header as its own caller.
		expect(attr(byId.get(callee)!.span, "http.request.header.traceparent")).toBeUndefined();
		expect(attr(byId.get(toObject)!.span, "objectId")).toBe(doId);
		expect(byId.get(calleeFetch)!.span.status).toMatchObject({ code: 2, message: "exception" });

		const objectSpan = byId.get(object)!.span;
		expect(attr(objectSpan, "cloudflare.durable_object.id")).toBe(doId);
		expect(attr(objectSpan, "cloudflare.entrypoint")).toBe("Obj");
		expect(objectSpan.status).toMatchObject({ code: 2 });
		const exception = objectSpan.events.find((e) => e.name === "exception")!;
		expect(["exception.type", "exception.message", "exception.stacktrace"].map((k) => attr(exception as unknown as Span, k))).toEqual(["TypeError", "boom", "at Obj.fetch (producer.js:3:9)"]);

		// The invocation's own trace id now redirects to the caller's trace.
		expect((await getTrace(trace)).headers.get("location")).toBe(`/v1/traces/${external}`);
	});

	it("bounds what an invocation holds: logs per span, message length, and counts what it dropped", async () => {
		const trace = randomHex(16);
		const root = randomHex(8);
		const logs: [string, AnyEvent][] = Array.from({ length: MAX_EVENTS_PER_SPAN + 20 }, (_, i) => [root, { type: "log", level: "info", message: [i === 0 ? "x".repeat(MAX_TEXT * 3) : `line ${i}`] }]);
		await invoke(trace, undefined, { spanId: root, executionModel: "stateless", scriptName: "chatty", info: { type: "scheduled", scheduledTime: new Date(), cron: "*/5 * * * *" } }, [
			...logs,
			[root, { type: "outcome", outcome: "ok", cpuTime: 0, wallTime: 0 }],
		]);
		const [only] = await spansOf(trace);
		expect(only!.span.name).toBe("scheduled");
		expect(attr(only!.span, "faas.trigger")).toBe("timer");
		expect(attr(only!.span, "faas.cron")).toBe("*/5 * * * *");
		expect(only!.span.events).toHaveLength(MAX_EVENTS_PER_SPAN);
		expect(String(attr(only!.span.events[0] as unknown as Span, "log.message")).length).toBe(MAX_TEXT + 1);
		expect(attr(only!.span, "assembler.tail.dropped_events")).toBe(20n);
	});

	it("sends closed spans of a long-lived invocation before it ends, under its external caller at once", async () => {
		const trace = randomHex(16);
		const root = randomHex(8);
		const [external, callerSpan] = [randomHex(16), randomHex(8)];
		const ctx = createExecutionContext();
		let sequence = 0;
		const tail = <E extends AnyEvent>(spanId: string, event: E): TailStream.TailEvent<E> => ({ invocationId: "long", spanContext: { traceId: trace, spanId }, timestamp: new Date(), sequence: sequence++, event });
		const handler = worker.tailStream!({ ...tail("", { type: "onset", spanId: root, executionModel: "stateless", scriptName: "socket", info: { type: "fetch", method: "GET", url: "https://ws/", headers: [{ name: "traceparent", value: `00-${external}-${callerSpan}-01` }] } }), spanContext: { traceId: trace } }, env, ctx) as TailStream.TailEventHandler;
		for (let i = 0; i < FLUSH_SPANS; i++) {
			const id = randomHex(8);
			await handler(tail(root, { type: "spanOpen", name: "websocket_message", spanId: id }));
			await handler(tail(id, { type: "spanClose", outcome: "ok" }));
		}
		await waitOnExecutionContext(ctx);
		// The invocation is still open, but its closed spans are already readable, in the caller's
		// trace: the onset's traceparent joined the two before the span recording it was sent.
		const early = await readTrace(external);
		expect(early.status).toBe("partial");
		expect(early.trace.resourceSpans.flatMap((rs) => rs.scopeSpans.flatMap((ss) => ss.spans))).toHaveLength(FLUSH_SPANS);

		await handler(tail(root, { type: "outcome", outcome: "ok", cpuTime: 0, wallTime: 0 }));
		await waitOnExecutionContext(ctx);
		expect(await spansOf(external)).toHaveLength(FLUSH_SPANS + 1);
	});

	it("never throws into the runtime: malformed onsets and events are logged and skipped", async () => {
		const ctx = createExecutionContext();
		const errorsBefore = tailCounters.conversionErrors;
		const bad = { invocationId: "x", spanContext: { traceId: "not-a-trace" }, timestamp: new Date(), sequence: 0, event: { type: "onset", spanId: "zz", executionModel: "stateless", info: { type: "fetch", method: "GET", url: "::", headers: [] } } } as unknown as TailStream.TailEvent<TailStream.Onset>;
		expect(worker.tailStream!(bad, env, ctx)).toBeUndefined();

		const trace = randomHex(16);
		const root = randomHex(8);
		const handler = worker.tailStream!({ invocationId: "y", spanContext: { traceId: trace }, timestamp: new Date(), sequence: 0, event: { type: "onset", spanId: root, executionModel: "stateless", scriptName: "odd", info: { type: "fetch", method: "GET", url: "not a url", headers: [] } } }, env, ctx) as TailStream.TailEventHandler;
		const garbage = [
			{ type: "spanOpen", name: "x", spanId: "short" },
			{ type: "spanClose", outcome: "ok" },
			{ type: "attributes", info: null },
			{ type: "spanUpdate", info: { type: "status" } },
			{ type: "somethingNew", payload: 1 },
			{ type: "log", level: "log", message: { circular: undefined } },
		];
		for (const event of garbage) {
			expect(() => handler({ invocationId: "y", spanContext: { traceId: trace, spanId: root }, timestamp: new Date(), sequence: 1, event } as unknown as TailStream.TailEvent<AnyEvent>)).not.toThrow();
		}
		await handler({ invocationId: "y", spanContext: { traceId: trace, spanId: root }, timestamp: new Date(), sequence: 9, event: { type: "outcome", outcome: "ok", cpuTime: 0, wallTime: 0 } });
		await waitOnExecutionContext(ctx);
		const spans = await spansOf(trace);
		expect(spans.map((s) => s.span.name)).toEqual(["fetch"]);
		// The bad onset and the events that could not be read were counted (and logged).
		expect(tailCounters.conversionErrors - errorsBefore).toBeGreaterThanOrEqual(3);
	});
});
