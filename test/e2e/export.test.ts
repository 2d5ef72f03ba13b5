// End to end: the real OpenTelemetry JS SDK exports through its protobuf and JSON OTLP/HTTP
// exporters to `wrangler dev`; every trace is read back after finalization and compared span by
// span with what the SDK recorded (ids, parents, names, kinds, times, attributes, events, links,
// status, resource, scope). Also: an exporter retry is not stored twice, a missing token is a
// 401, and the demo's trace split across three Workers and a Durable Object reads back as one tree.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { context, SpanKind, SpanStatusCode, trace, type Attributes, type AttributeValue, type HrTime } from "@opentelemetry/api";
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan, type SpanExporter } from "@opentelemetry/sdk-trace-base";
import { OTLPTraceExporter as JsonExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { OTLPTraceExporter as ProtobufExporter } from "@opentelemetry/exporter-trace-otlp-proto";
import type { CompressionAlgorithm } from "@opentelemetry/otlp-exporter-base";
import { resourceFromAttributes } from "@opentelemetry/resources";
import { fromBinary } from "@bufbuild/protobuf";
import { TracesDataSchema } from "../../src/gen/opentelemetry/proto/trace/v1/trace_pb.ts";
import { demoTrace } from "../../scripts/lib/demo-trace.ts";
import { startDevServer, type DevServer } from "../../scripts/lib/dev-server.ts";

let server: DevServer;
const TOKEN = "e2e-export-token";
const auth = { authorization: `Bearer ${TOKEN}` };

beforeAll(async () => {
	server = await startDevServer({ vars: { AUTH_TOKENS: TOKEN, QUIET_PERIOD_MS: "1000" } });
});
afterAll(async () => {
	await server?.stop();
});

interface OtlpValue {
	stringValue?: string;
	intValue?: string;
	doubleValue?: number;
	boolValue?: boolean;
	arrayValue?: { values?: OtlpValue[] };
}
interface OtlpKeyValue {
	key: string;
	value?: OtlpValue;
}
interface OtlpSpan {
	traceId: string;
	spanId: string;
	parentSpanId?: string;
	name: string;
	kind?: number;
	startTimeUnixNano: string;
	endTimeUnixNano: string;
	attributes?: OtlpKeyValue[];
	events?: { name: string; timeUnixNano: string; attributes?: OtlpKeyValue[] }[];
	links?: { traceId: string; spanId: string; attributes?: OtlpKeyValue[] }[];
	status?: { code?: number; message?: string };
}
interface OtlpTrace {
	resourceSpans: { resource?: { attributes?: OtlpKeyValue[] }; scopeSpans: { scope?: { name?: string; version?: string }; spans: OtlpSpan[] }[] }[];
}

/** The read-back OTLP value as the JavaScript value the SDK recorded. */
function plain(value: OtlpValue | undefined): AttributeValue | undefined {
	if (!value) return undefined;
	if (value.arrayValue) return (value.arrayValue.values ?? []).map(plain) as AttributeValue;
	if (value.intValue !== undefined) return Number(value.intValue);
	return value.stringValue ?? value.doubleValue ?? value.boolValue;
}
const attributes = (list: OtlpKeyValue[] | undefined): Attributes => Object.fromEntries((list ?? []).map((kv) => [kv.key, plain(kv.value)]));
const nanos = ([seconds, ns]: HrTime) => String(BigInt(seconds) * 1_000_000_000n + BigInt(ns));

/** A span as the SDK recorded it, in the shape it must read back in. */
function expected(span: ReadableSpan) {
	const parent = span.parentSpanContext?.spanId;
	return {
		traceId: span.spanContext().traceId,
		spanId: span.spanContext().spanId,
		parentSpanId: parent,
		name: span.name,
		kind: span.kind + 1, // the SDK's INTERNAL is 0, OTLP's SPAN_KIND_INTERNAL is 1
		start: nanos(span.startTime),
		end: nanos(span.endTime),
		attributes: span.attributes,
		events: span.events.map((e) => ({ name: e.name, time: nanos(e.time), attributes: e.attributes ?? {} })),
		links: span.links.map((l) => ({ traceId: l.context.traceId, spanId: l.context.spanId, attributes: l.attributes ?? {} })),
		status: { code: span.status.code, message: span.status.message ?? "" },
		resource: span.resource.attributes,
		scope: { name: span.instrumentationScope.name, version: span.instrumentationScope.version },
	};
}

function actual(trace: OtlpTrace) {
	return trace.resourceSpans.flatMap((rs) =>
		rs.scopeSpans.flatMap((ss) =>
			ss.spans.map((s) => ({
				traceId: s.traceId,
				spanId: s.spanId,
				parentSpanId: s.parentSpanId,
				name: s.name,
				kind: s.kind ?? 0,
				start: s.startTimeUnixNano,
				end: s.endTimeUnixNano,
				attributes: attributes(s.attributes),
				events: (s.events ?? []).map((e) => ({ name: e.name, time: e.timeUnixNano, attributes: attributes(e.attributes) })),
				links: (s.links ?? []).map((l) => ({ traceId: l.traceId, spanId: l.spanId, attributes: attributes(l.attributes) })),
				status: { code: s.status?.code ?? 0, message: s.status?.message ?? "" },
				resource: attributes(rs.resource?.attributes),
				scope: { name: ss.scope?.name, version: ss.scope?.version },
			})),
		),
	);
}

async function readFinalized(traceId: string, timeoutMs = 30_000): Promise<{ json: OtlpTrace; response: Response }> {
	const deadline = Date.now() + timeoutMs;
	for (;;) {
		const response = await fetch(`${server.url}/v1/traces/${traceId}`, { headers: auth });
		if (response.headers.get("x-trace-status") === "complete") return { json: (await response.json()) as OtlpTrace, response };
		await response.body?.cancel();
		if (Date.now() > deadline) throw new Error(`trace ${traceId} not finalized: last status ${response.status} ${response.headers.get("x-trace-status")}`);
		await new Promise((r) => setTimeout(r, 250));
	}
}

/** Records a small but complete checkout trace with every kind of span data the SDK can carry. */
function recordTrace(exporter: SpanExporter | undefined, service: string): { spans: InMemorySpanExporter; provider: BasicTracerProvider; traceId: string } {
	const memory = new InMemorySpanExporter();
	const provider = new BasicTracerProvider({
		resource: resourceFromAttributes({ "service.name": service, "service.version": "2.4.1", "deployment.environment.name": "e2e" }),
		spanProcessors: [new SimpleSpanProcessor(memory), ...(exporter ? [new SimpleSpanProcessor(exporter)] : [])],
	});
	const tracer = provider.getTracer("checkout-instrumentation", "0.9.0");
	const db = provider.getTracer("db-instrumentation", "1.2.3");
	const other = tracer.startSpan("upstream batch");
	other.end();
	const root = tracer.startSpan("POST /checkout", {
		kind: SpanKind.SERVER,
		startTime: [1_763_900_000, 123_456_789],
		attributes: { "http.request.method": "POST", "http.response.status_code": 201, "cart.total": 99.95, "cart.gift": false, "cart.skus": ["a-1", "b-2"], "cart.quantities": [1, 3] },
	});
	const rootContext = trace.setSpan(context.active(), root);
	const query = db.startSpan("SELECT stock", { kind: SpanKind.CLIENT, startTime: [1_763_900_000, 200_000_000], attributes: { "db.system.name": "sqlite" } }, rootContext);
	query.addEvent("rows", { "db.rows": 12 }, [1_763_900_000, 250_000_001]);
	query.end([1_763_900_000, 300_000_000]);
	const publish = tracer.startSpan("publish order", { kind: SpanKind.PRODUCER, links: [{ context: other.spanContext(), attributes: { "link.reason": "batched" } }] }, rootContext);
	publish.end();
	const consume = tracer.startSpan("consume order", { kind: SpanKind.CONSUMER }, trace.setSpan(rootContext, publish));
	consume.recordException(new TypeError("payment declined"));
	consume.setStatus({ code: SpanStatusCode.ERROR, message: "payment declined" });
	consume.end();
	const internal = tracer.startSpan("render receipt", { attributes: { "unicode.text": "Grüße, 世界 🌍" } }, rootContext);
	internal.end();
	root.setStatus({ code: SpanStatusCode.OK });
	root.end([1_763_900_001, 0]);
	return { spans: memory, provider, traceId: root.spanContext().traceId };
}

describe("OTel SDK exporters end to end", () => {
	const exporters = {
		"protobuf (gzip)": () => new ProtobufExporter({ url: `${server.url}/v1/traces`, headers: auth, compression: "gzip" as CompressionAlgorithm }),
		JSON: () => new JsonExporter({ url: `${server.url}/v1/traces`, headers: auth }),
	};

	for (const [encoding, makeExporter] of Object.entries(exporters)) {
		it(`reads back every span exactly as the ${encoding} exporter sent it`, async () => {
			const { spans, provider, traceId } = recordTrace(makeExporter(), `checkout-${encoding.split(" ")[0]}`);
			await provider.forceFlush();
			const sent = spans.getFinishedSpans().filter((s) => s.spanContext().traceId === traceId);
			expect(sent).toHaveLength(5);

			const { json, response } = await readFinalized(traceId);
			const byId = (a: { spanId: string }, b: { spanId: string }) => a.spanId.localeCompare(b.spanId);
			expect(actual(json).sort(byId)).toEqual(sent.map(expected).sort(byId));
			expect(response.headers.get("content-type")).toContain("application/json");

			// The protobuf read holds the same spans, grouped the same way (two scopes, one resource).
			const binary = await fetch(`${server.url}/v1/traces/${traceId}`, { headers: { ...auth, accept: "application/x-protobuf" } });
			const data = fromBinary(TracesDataSchema, new Uint8Array(await binary.arrayBuffer()));
			expect(data.resourceSpans).toHaveLength(1);
			expect(data.resourceSpans[0]!.scopeSpans.map((ss) => ss.scope?.name).sort()).toEqual(["checkout-instrumentation", "db-instrumentation"]);
			expect(data.resourceSpans[0]!.scopeSpans.flatMap((ss) => ss.spans)).toHaveLength(5);
			await provider.shutdown();
		});
	}

	it("stores an exporter's retried batch once", async () => {
		const exporter = exporters.JSON();
		const { spans, provider, traceId } = recordTrace(exporter, "checkout-retry");
		await provider.forceFlush();
		const batch = spans.getFinishedSpans();
		// The same spans exported again, as the exporter does when an answer is lost.
		const result = await new Promise<{ code: number }>((done) => exporter.export(batch, done));
		expect(result.code).toBe(0);
		const { json } = await readFinalized(traceId);
		expect(actual(json).map((s) => s.spanId).sort()).toEqual(batch.filter((s) => s.spanContext().traceId === traceId).map((s) => s.spanContext().spanId).sort());
		await provider.shutdown();
	});

	it("refuses an exporter without a token with 401 and says how to configure one", async () => {
		const exporter = new JsonExporter({ url: `${server.url}/v1/traces` });
		const { provider, spans } = recordTrace(undefined, "checkout-anonymous");
		const result = await new Promise<{ code: number; error?: Error }>((done) => exporter.export(spans.getFinishedSpans(), done));
		expect(result.code).toBe(1);
		const response = await fetch(`${server.url}/v1/traces`, { method: "POST", headers: { "content-type": "application/json" }, body: "{}" });
		expect(response.status).toBe(401);
		expect(((await response.json()) as { message: string }).message).toMatch(/AUTH_TOKENS/);
		await provider.shutdown();
	});
});

describe("a trace split across three Workers and a Durable Object (npm run demo)", () => {
	it("reads back as one tree under the caller's trace id", async () => {
		const demo = demoTrace();
		for (const request of demo.requests) {
			const response = await fetch(`${server.url}/v1/traces`, { method: "POST", headers: { ...auth, "content-type": "application/json" }, body: JSON.stringify(request) });
			expect(response.status).toBe(200);
		}
		const { json } = await readFinalized(demo.traceId);
		const spans = actual(json);
		expect(spans).toHaveLength(demo.spanCount);
		expect(new Set(spans.map((s) => s.traceId))).toEqual(new Set([demo.traceId]));
		const bySpanId = new Map(spans.map((s) => [s.spanId, s]));
		// Every span's parent is in the trace, except the caller's root: one tree.
		expect(spans.filter((s) => !s.parentSpanId || !bySpanId.has(s.parentSpanId)).map((s) => s.spanId)).toEqual([demo.workers[0]!.spans[0]!.spanId]);
		// Each callee's entry span hangs under its caller's outgoing call, and keeps its own trace id.
		const path = (spanId: string): string[] => {
			const span = bySpanId.get(spanId)!;
			return span.parentSpanId ? [...path(span.parentSpanId), `${span.resource["service.name"]}:${span.name}`] : [`${span.resource["service.name"]}:${span.name}`];
		};
		const storage = demo.workers[2]!.spans.find((s) => s.name === "durable_object_storage_put")!;
		expect(path(storage.spanId)).toEqual(["storefront:fetch", "storefront:fetch", "cart:fetch", "cart:durable_object_subrequest", "cart-object:fetch", "cart-object:reserve stock", "cart-object:durable_object_storage_put"]);
		expect(bySpanId.get(storage.spanId)!.attributes["assembler.original_trace_id"]).toBe(demo.childTraceIds[1]);
		// The callees' own ids redirect to the merged trace.
		for (const child of demo.childTraceIds) {
			const response = await fetch(`${server.url}/v1/traces/${child}`, { headers: auth, redirect: "manual" });
			expect(response.status).toBe(308);
			expect(response.headers.get("location")).toBe(`/v1/traces/${demo.traceId}`);
		}
	});
});

describe("stitching OTel SDK and otel-cf-workers exports end to end", () => {
	it("merges by each rule — recorded traceparent, single link, hint — into the SDK caller's trace", async () => {
		// The caller, traced by the OTel SDK and exported as protobuf.
		const exporter = new ProtobufExporter({ url: `${server.url}/v1/traces`, headers: auth });
		const provider = new BasicTracerProvider({ resource: resourceFromAttributes({ "service.name": "gateway" }), spanProcessors: [new SimpleSpanProcessor(exporter)] });
		const tracer = provider.getTracer("gateway");
		const root = tracer.startSpan("GET /orders", { kind: SpanKind.SERVER });
		const rootContext = trace.setSpan(context.active(), root);
		const call = tracer.startSpan("fetch cart", { kind: SpanKind.CLIENT }, rootContext);
		const publish = tracer.startSpan("queue send", { kind: SpanKind.PRODUCER }, rootContext);
		const { traceId, spanId: rootId } = root.spanContext();
		const [callId, publishId] = [call.spanContext().spanId, publish.spanContext().spanId];
		const [cartTrace, consumerTrace, cronTrace] = [1, 2, 3].map(() => crypto.randomUUID().replaceAll("-", ""));
		const cfWorkers = (service: string, spans: Record<string, unknown>[]) => ({
			resourceSpans: [{
				resource: { attributes: [{ key: "service.name", value: { stringValue: service } }, { key: "telemetry.sdk.name", value: { stringValue: "@microlabs/otel-cf-workers" } }] },
				scopeSpans: [{ scope: { name: "@microlabs/otel-cf-workers" }, spans }],
			}],
		});
		const now = String(BigInt(Date.now()) * 1_000_000n);
		// otel-cf-workers style JSON, sent before the caller's spans: upper-case hex ids, integers as
		// numbers, the recorded header as a plain string.
		const requests = [
			cfWorkers("cart", [{ traceId: cartTrace!.toUpperCase(), spanId: "A1B2C3D4E5F60718", name: "fetchHandler POST", kind: 2, startTimeUnixNano: now, endTimeUnixNano: now,
				attributes: [{ key: "http.request.header.traceparent", value: { stringValue: `00-${traceId}-${callId}-01` } }, { key: "http.response.status_code", value: { intValue: 200 } }] }]),
			cfWorkers("mailer", [{ traceId: consumerTrace, spanId: "1a2b3c4d5e6f7081", name: "queueHandler orders", kind: 5, startTimeUnixNano: now, endTimeUnixNano: now,
				links: [{ traceId, spanId: publishId }] }]),
			cfWorkers("reports", [{ traceId: cronTrace, spanId: "0f1e2d3c4b5a6978", name: "scheduledHandler", kind: 2, startTimeUnixNano: now, endTimeUnixNano: now }]),
		];
		for (const request of requests) {
			const response = await fetch(`${server.url}/v1/traces`, { method: "POST", headers: { ...auth, "content-type": "application/json" }, body: JSON.stringify(request) });
			expect(response.status).toBe(200);
		}
		const hint = await fetch(`${server.url}/v1/stitch`, { method: "POST", headers: { ...auth, "content-type": "application/json" }, body: JSON.stringify({ traceId: cronTrace, traceparent: `00-${traceId}-${rootId}-01` }) });
		expect(hint.status).toBe(202);
		for (const span of [call, publish, root]) span.end();
		await provider.forceFlush();

		const { json, response } = await readFinalized(traceId);
		const spans = actual(json);
		expect(spans).toHaveLength(6);
		for (const span of spans) expect(span.traceId).toBe(traceId);
		const parentOf = Object.fromEntries(spans.map((s) => [s.name, s.parentSpanId]));
		expect(parentOf).toMatchObject({ "fetchHandler POST": callId, "queueHandler orders": publishId, scheduledHandler: rootId });
		expect(response.headers.get("x-trace-merged")!.split(",").sort()).toEqual([`${cartTrace}:traceparent`, `${consumerTrace}:link`, `${cronTrace}:hint`].sort());
		await provider.shutdown();
	});
});
