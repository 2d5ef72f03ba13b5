// Traces shaped like Cloudflare's automatic Workers tracing: a gateway Worker whose fetch handler
// calls an auth Worker through a service binding and a Durable Object, each callee starting a
// separate trace whose fetch-handler root span recorded the caller's traceparent.
import { randomHex, type SpanSpec } from "./helpers";

const cf = (script: string) => ({
	"cloud.provider": "cloudflare",
	"cloud.platform": "cloudflare.workers",
	"faas.name": script,
	"cloudflare.script_name": script,
	"cloudflare.colo": "AMS",
	"telemetry.sdk.name": "cloudflare",
});

export interface SplitTrace {
	parent: SpanSpec[];
	/** The service-binding callee's trace. */
	auth: SpanSpec[];
	/** The Durable Object callee's trace. */
	object: SpanSpec[];
	parentTraceId: string;
	authTraceId: string;
	objectTraceId: string;
	fetchSpanId: string;
	doSpanId: string;
}

export function splitTrace(): SplitTrace {
	const parentTraceId = randomHex(16);
	const authTraceId = randomHex(16);
	const objectTraceId = randomHex(16);
	const root = randomHex(8);
	const fetchSpanId = randomHex(8);
	const doSpanId = randomHex(8);
	const authRoot = randomHex(8);
	const objectRoot = randomHex(8);
	const t = 1_763_900_000_000_000_000n;
	const ms = 1_000_000n;
	const parent: SpanSpec[] = [
		{ traceId: parentTraceId, spanId: root, name: "fetch", kind: 2, service: "gateway", startNs: t, endNs: t + 50n * ms, attributes: { ...cf("gateway"), "faas.trigger": "http", "http.request.method": "GET", "url.full": "https://api.example.com/orders" } },
		{ traceId: parentTraceId, spanId: fetchSpanId, parentSpanId: root, name: "fetch", kind: 3, service: "gateway", startNs: t + 2n * ms, endNs: t + 20n * ms, attributes: cf("gateway") },
		{ traceId: parentTraceId, spanId: doSpanId, parentSpanId: root, name: "durable_object_subrequest", kind: 3, service: "gateway", startNs: t + 21n * ms, endNs: t + 45n * ms, attributes: cf("gateway") },
		{ traceId: parentTraceId, spanId: randomHex(8), parentSpanId: root, name: "kv_get", kind: 3, service: "gateway", startNs: t + 1n * ms, endNs: t + 2n * ms, attributes: cf("gateway") },
	];
	const auth: SpanSpec[] = [
		{ traceId: authTraceId, spanId: authRoot, name: "fetch", kind: 2, service: "auth", startNs: t + 3n * ms, endNs: t + 19n * ms, attributes: { ...cf("auth"), "faas.trigger": "http", "http.request.header.traceparent": [`00-${parentTraceId}-${fetchSpanId}-01`] } },
		{ traceId: authTraceId, spanId: randomHex(8), parentSpanId: authRoot, name: "kv_get", kind: 3, service: "auth", startNs: t + 4n * ms, endNs: t + 6n * ms, attributes: cf("auth") },
	];
	const object: SpanSpec[] = [
		{ traceId: objectTraceId, spanId: objectRoot, name: "fetch", kind: 2, service: "orders-do", startNs: t + 22n * ms, endNs: t + 44n * ms, attributes: { ...cf("orders-do"), "cloudflare.durable_object.id": "abc", "http.request.header.traceparent": `00-${parentTraceId}-${doSpanId}-01` } },
		{ traceId: objectTraceId, spanId: randomHex(8), parentSpanId: objectRoot, name: "durable_object_storage_get", kind: 3, service: "orders-do", startNs: t + 23n * ms, endNs: t + 24n * ms, attributes: cf("orders-do") },
	];
	return { parent, auth, object, parentTraceId, authTraceId, objectTraceId, fetchSpanId, doSpanId };
}
