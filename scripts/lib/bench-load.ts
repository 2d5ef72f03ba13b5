// OTLP load for `npm run bench`: export requests like real exporters send (512 spans over 64
// traces by default), spans shaped like Cloudflare's automatic spans and OTel SDK spans, each trace
// continuing over several requests, encoded as OTLP/JSON and as protobuf.
import { fromJson, toBinary, type JsonValue } from "@bufbuild/protobuf";
import { ExportTraceServiceRequestSchema } from "../../src/gen/opentelemetry/proto/collector/trace/v1/trace_service_pb.ts";
import { exportRequest, type DemoSpan, type DemoWorker } from "./demo-trace.ts";

export interface LoadOptions {
	requests: number;
	spansPerRequest?: number;
	tracesPerRequest?: number;
	/** Each trace gets spans in this many consecutive requests, as traces exported in pieces do. */
	requestsPerTrace?: number;
	/** Every second trace's root records the previous trace as its caller (a stitch per pair). */
	stitch?: boolean;
}

export interface Load {
	json: Uint8Array[];
	protobuf: Uint8Array[];
	traceIds: string[];
	spansPerRequest: number;
}

const hex = (bytes: number) => Array.from(crypto.getRandomValues(new Uint8Array(bytes)), (b) => b.toString(16).padStart(2, "0")).join("");
const SERVICES = ["storefront", "cart", "pricing", "inventory"];
const SERVER = 2;
const CLIENT = 3;

export function buildLoad(options: LoadOptions): Load {
	const spansPerRequest = options.spansPerRequest ?? 512;
	const tracesPerRequest = options.tracesPerRequest ?? 64;
	const requestsPerTrace = options.requestsPerTrace ?? 8;
	const perTrace = spansPerRequest / tracesPerRequest;
	const load: Load = { json: [], protobuf: [], traceIds: [], spansPerRequest };
	const encoder = new TextEncoder();
	let group: { traceId: string; root: string; service: string }[] = [];
	for (let r = 0; r < options.requests; r++) {
		if (r % requestsPerTrace === 0) {
			group = Array.from({ length: tracesPerRequest }, (_, i) => ({ traceId: hex(16), root: hex(8), service: SERVICES[i % SERVICES.length]! }));
			load.traceIds.push(...group.map((t) => t.traceId));
		}
		const first = r % requestsPerTrace === 0;
		const now = Date.now();
		const workers = new Map<string, DemoSpan[]>();
		for (const [i, trace] of group.entries()) {
			const spans = workers.get(trace.service) ?? [];
			workers.set(trace.service, spans);
			for (let s = 0; s < perTrace; s++) {
				if (first && s === 0) {
					const caller = options.stitch && i % 2 === 1 ? group[i - 1]! : undefined;
					spans.push(rootSpan(trace.traceId, trace.root, trace.service, now, caller && `00-${caller.traceId}-${caller.root}-01`));
				} else {
					spans.push(childSpan(trace.traceId, trace.root, s, now));
				}
			}
		}
		const request = exportRequest([...workers].map(([script, spans]): DemoWorker => ({ script, spans })));
		load.json.push(encoder.encode(JSON.stringify(request)));
		load.protobuf.push(toBinary(ExportTraceServiceRequestSchema, fromJson(ExportTraceServiceRequestSchema, base64Ids(request) as JsonValue)));
	}
	return load;
}

function rootSpan(traceId: string, spanId: string, service: string, now: number, traceparent?: string): DemoSpan {
	return {
		traceId, spanId, name: "fetch", kind: SERVER, startMs: now - 120, endMs: now,
		attributes: {
			"faas.trigger": "http", "faas.invocation_id": hex(16), "http.request.method": "POST", "url.full": `https://${service}.example.com/api/orders?id=${spanId}`,
			"url.path": "/api/orders", "http.response.status_code": 200, "cloudflare.ray_id": hex(8), "cloudflare.handler_type": "fetch",
			"cloudflare.entrypoint": "default", "cloudflare.execution_model": "stateless", "cloudflare.outcome": "ok", "cloudflare.cpu_time_ms": 7, "cloudflare.wall_time_ms": 120,
			...(traceparent ? { "http.request.header.traceparent": [traceparent] } : {}),
		},
	};
}

function childSpan(traceId: string, root: string, index: number, now: number): DemoSpan {
	const start = now - 100 + index;
	const spanId = hex(8);
	switch (index % 4) {
		case 0:
			return { traceId, spanId, parentSpanId: root, name: "kv_get", kind: CLIENT, startMs: start, endMs: start + 2, attributes: { "db.system": "cloudflare-kv", "cloudflare.binding.name": "SESSIONS", "db.operation.name": "get", "cloudflare.kv.query.keys": "session:8f2c" } };
		case 1:
			return { traceId, spanId, parentSpanId: root, name: "fetch", kind: CLIENT, startMs: start, endMs: start + 30, attributes: { "http.request.method": "GET", "url.full": "https://api.partner.example.net/v2/rates?currency=EUR", "http.response.status_code": 200, "network.protocol.name": "http", "http.response.body.size": 1834 } };
		case 2:
			return {
				traceId, spanId, parentSpanId: root, name: "SELECT orders", kind: CLIENT, startMs: start, endMs: start + 9,
				attributes: { "db.system.name": "postgresql", "db.namespace": "shop", "db.query.text": "SELECT id, total, status FROM orders WHERE customer_id = $1 ORDER BY created_at DESC LIMIT 20", "server.address": "db.internal", "server.port": 5432 },
				events: [{ name: "rows", atMs: start + 8, attributes: { "db.response.returned_rows": "20" } }],
			};
		default:
			return { traceId, spanId, parentSpanId: root, name: "durable_object_subrequest", kind: CLIENT, startMs: start, endMs: start + 14, attributes: { "cloudflare.durable_object.id": hex(32), "cloudflare.binding.name": "CARTS" } };
	}
}

/** The proto3 JSON mapping that @bufbuild/protobuf reads has base64 ids where OTLP/JSON has hex. */
function base64Ids(request: Record<string, unknown>): unknown {
	return JSON.parse(JSON.stringify(request), (key, value) =>
		(key === "traceId" || key === "spanId" || key === "parentSpanId") && typeof value === "string" ? Buffer.from(value, "hex").toString("base64") : value,
	);
}
