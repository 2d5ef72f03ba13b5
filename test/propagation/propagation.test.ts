// src/propagation.ts in workerd: a caller's active span crosses a real service binding and a real
// Durable Object call as `traceparent`; each callee records it on its own (separate) trace's span;
// the assembler then delivers one trace.
import "./als-context";
import { describe, expect, it } from "vitest";
import { env } from "cloudflare:workers";
import { context, ROOT_CONTEXT, SpanKind, trace } from "@opentelemetry/api";
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base";
import { contextFromRequest, injectTraceparent, recordIncomingTraceparent, traceparentOf, tracedFetch, type FetchTarget } from "../../src/propagation";
import { finalizeNow, getTrace, jsonRequest, postTraces, readTrace, type SpanSpec } from "../helpers";
import type { CalleeSpan } from "./worker";

const bindings = env as unknown as { CALLEE: FetchTarget; ORDERS: DurableObjectNamespace & { getByName(name: string): FetchTarget } };
const hex = (bytes: Uint8Array) => [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");

function recordingTracer() {
	const memory = new InMemorySpanExporter();
	const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(memory)] });
	return { tracer: provider.getTracer("caller"), memory };
}

async function calleeSpan(response: Response): Promise<CalleeSpan> {
	expect(response.status).toBe(200);
	return ((await response.json()) as { span: CalleeSpan }).span;
}

describe("propagation helper", () => {
	it("joins a service-binding callee and a Durable Object callee under the caller's span", async () => {
		const { tracer, memory } = recordingTracer();
		const callees = await tracer.startActiveSpan("GET /checkout", { kind: SpanKind.SERVER }, async (root) => {
			// Across awaits, the active span is still the root: both calls carry its context.
			const cart = await calleeSpan(await tracedFetch(bindings.CALLEE, "https://cart/checkout", { method: "POST", body: "{}" }));
			const orders = await calleeSpan(await tracedFetch(bindings.ORDERS.getByName("order-1042"), "https://orders/reserve"));
			root.end();
			return [cart, orders];
		});
		const [root] = memory.getFinishedSpans();
		const { traceId, spanId } = root!.spanContext();
		for (const callee of callees) {
			expect(callee.traceId).not.toBe(traceId); // a separate trace, as the runtime starts one
			expect(callee.attributes["http.request.header.traceparent"]).toEqual([`00-${traceId}-${spanId}-01`]);
		}

		// Exported in pieces, callees first: the assembler delivers one trace under the caller.
		const spans: SpanSpec[] = callees.map((c) => ({ traceId: c.traceId, spanId: c.spanId, name: c.name, service: c.service, kind: 2, attributes: c.attributes }));
		for (const part of [spans.slice(0, 1), spans.slice(1), [{ traceId, spanId, name: root!.name, service: "storefront", kind: 2 }]]) {
			expect((await postTraces(jsonRequest(part))).status).toBe(200);
		}
		await finalizeNow(traceId);
		const read = await readTrace(traceId);
		expect(read.status).toBe("complete");
		const stored = read.trace.resourceSpans.flatMap((rs) => rs.scopeSpans.flatMap((ss) => ss.spans));
		expect(stored).toHaveLength(3);
		for (const span of stored) expect(hex(span.traceId)).toBe(traceId);
		const children = stored.filter((s) => hex(s.spanId) !== spanId);
		expect(children.map((s) => hex(s.parentSpanId))).toEqual([spanId, spanId]);
		for (const callee of callees) {
			const res = await getTrace(callee.traceId, {});
			expect(res.status).toBe(308);
			expect(res.headers.get("location")).toBe(`/v1/traces/${traceId}`);
		}
	});

	it("leaves requests outside a trace unchanged and records nothing for them", async () => {
		const callee = await calleeSpan(await tracedFetch(bindings.CALLEE, "https://cart/checkout"));
		expect(callee.attributes["http.request.header.traceparent"]).toBeUndefined();
		expect(traceparentOf(ROOT_CONTEXT)).toBeUndefined();
		const headers = injectTraceparent(new Headers({ traceparent: "kept" }), ROOT_CONTEXT);
		expect(headers.get("traceparent")).toBe("kept");
	});

	it("ignores a malformed incoming traceparent and records a valid one as sent", () => {
		const { tracer, memory } = recordingTracer();
		const span = tracer.startSpan("fetch");
		expect(recordIncomingTraceparent(new Request("https://x", { headers: { traceparent: "00-zz-yy-01" } }), span)).toBeUndefined();
		expect(recordIncomingTraceparent(new Request("https://x", { headers: { traceparent: `00-${"0".repeat(32)}-${"1".repeat(16)}-01` } }), span)).toBeUndefined();
		const sent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00";
		expect(recordIncomingTraceparent(new Request("https://x", { headers: { traceparent: sent } }), span)).toMatchObject({ traceId: "4bf92f3577b34da6a3ce929d0e0e4736", spanId: "00f067aa0ba902b7", traceFlags: 0, isRemote: true });
		span.end();
		expect(memory.getFinishedSpans()[0]!.attributes["http.request.header.traceparent"]).toEqual([sent]);
	});

	it("gives a tracer that can continue the caller's trace a context with the caller as parent", () => {
		const { tracer, memory } = recordingTracer();
		const request = new Request("https://x", { headers: { traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01" } });
		context.with(contextFromRequest(request), () => tracer.startSpan("fetch").end());
		const [span] = memory.getFinishedSpans();
		expect(span!.spanContext().traceId).toBe("4bf92f3577b34da6a3ce929d0e0e4736");
		expect(span!.parentSpanContext?.spanId).toBe("00f067aa0ba902b7");
		expect(trace.getActiveSpan()).toBeUndefined();
	});
});
