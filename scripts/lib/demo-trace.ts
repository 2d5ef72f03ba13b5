// A request through three Workers and a Durable Object, shaped like Cloudflare's automatic
// tracing: `storefront` calls `cart` through a service binding, `cart` calls its `CartObject`
// Durable Object, and `storefront` calls `pricing` through another service binding. Each callee
// started its own trace (as the runtime does for calls from outside and on older runtimes), and
// each callee's fetch-handler span recorded the caller's `traceparent`, so the assembler can put
// the four traces back into one.

export interface DemoSpan {
	traceId: string;
	spanId: string;
	parentSpanId?: string;
	name: string;
	kind: number;
	startMs: number;
	endMs: number;
	attributes: Record<string, string | number | boolean | string[]>;
	events?: { name: string; atMs: number; attributes: Record<string, string> }[];
	error?: string;
}

export interface DemoWorker {
	script: string;
	spans: DemoSpan[];
}

export interface DemoTrace {
	/** The caller's trace id: the one the merged trace is read under. */
	traceId: string;
	/** The callees' own trace ids, merged into `traceId`. */
	childTraceIds: string[];
	workers: DemoWorker[];
	/** The export requests, in the (scrambled) order the demo sends them. */
	requests: Record<string, unknown>[];
	spanCount: number;
}

const hex = (bytes: number) => Array.from(crypto.getRandomValues(new Uint8Array(bytes)), (b) => b.toString(16).padStart(2, "0")).join("");
const SERVER = 2;
const CLIENT = 3;
const INTERNAL = 1;

export function demoTrace(now = Date.now()): DemoTrace {
	const t0 = now - 400;
	const ids = { storefront: hex(16), cart: hex(16), object: hex(16), pricing: hex(16) };
	const span = (traceId: string, name: string, kind: number, startMs: number, endMs: number, parentSpanId?: string, attributes: DemoSpan["attributes"] = {}): DemoSpan =>
		({ traceId, spanId: hex(8), ...(parentSpanId ? { parentSpanId } : {}), name, kind, startMs: t0 + startMs, endMs: t0 + endMs, attributes });
	const traceparent = (caller: DemoSpan) => [`00-${caller.traceId}-${caller.spanId}-01`];

	// storefront: GET /checkout, the edge entry point.
	const entry = span(ids.storefront, "fetch", SERVER, 0, 182, undefined, {
		"faas.trigger": "http", "http.request.method": "GET", "url.full": "https://shop.example.com/checkout?cart=c-1042", "url.path": "/checkout",
		"http.response.status_code": 200, "cloudflare.ray_id": "8e1f2a3b4c5d6e7f", "cloudflare.handler_type": "fetch", "cloudflare.entrypoint": "default",
		"cloudflare.execution_model": "stateless", "cloudflare.outcome": "ok", "cloudflare.cpu_time_ms": 9, "cloudflare.wall_time_ms": 182,
	});
	const session = span(ids.storefront, "kv_get", CLIENT, 2, 6, entry.spanId, { "db.system": "cloudflare-kv", "cloudflare.binding.name": "SESSIONS", "db.operation.name": "get" });
	const toCart = span(ids.storefront, "fetch", CLIENT, 8, 121, entry.spanId, { "http.request.method": "POST", "url.full": "https://cart/carts/c-1042/checkout", "http.response.status_code": 200 });
	const toPricing = span(ids.storefront, "fetch", CLIENT, 124, 171, entry.spanId, { "http.request.method": "GET", "url.full": "https://pricing/quote?cart=c-1042", "http.response.status_code": 200 });
	const render = span(ids.storefront, "render checkout", INTERNAL, 172, 180, entry.spanId, { "template": "checkout.html" });

	// cart: called through a service binding; calls its Durable Object.
	const cartEntry = span(ids.cart, "fetch", SERVER, 10, 119, undefined, {
		"faas.trigger": "http", "http.request.method": "POST", "url.full": "https://cart/carts/c-1042/checkout", "url.path": "/carts/c-1042/checkout",
		"http.request.header.traceparent": traceparent(toCart), "http.response.status_code": 200, "cloudflare.handler_type": "fetch",
		"cloudflare.entrypoint": "default", "cloudflare.execution_model": "stateless", "cloudflare.outcome": "ok",
	});
	const toObject = span(ids.cart, "durable_object_subrequest", CLIENT, 14, 110, cartEntry.spanId, { "cloudflare.durable_object.id": "7f3a0c1e9b2d4f6a", "cloudflare.binding.name": "CART" });
	const audit = span(ids.cart, "queue_send", CLIENT, 111, 116, cartEntry.spanId, { "messaging.system": "cloudflare-queues", "messaging.destination.name": "audit" });

	// CartObject: the Durable Object's own invocation, one storage read, a conflict retried once.
	const objectEntry = span(ids.object, "fetch", SERVER, 16, 108, undefined, {
		"faas.trigger": "http", "http.request.method": "POST", "url.full": "https://cart/checkout", "cloudflare.durable_object.id": "7f3a0c1e9b2d4f6a",
		"cloudflare.execution_model": "stateful", "cloudflare.entrypoint": "CartObject", "http.request.header.traceparent": traceparent(toObject),
		"cloudflare.outcome": "ok",
	});
	const read = span(ids.object, "durable_object_storage_get", CLIENT, 18, 21, objectEntry.spanId, { "db.system": "cloudflare-durable-object-sql", "db.operation.name": "get" });
	const reserve = span(ids.object, "reserve stock", INTERNAL, 22, 104, objectEntry.spanId, { "cart.items": 3 });
	reserve.events = [{ name: "retry", atMs: t0 + 60, attributes: { reason: "stock version conflict" } }];
	const write = span(ids.object, "durable_object_storage_put", CLIENT, 98, 103, reserve.spanId, { "db.system": "cloudflare-durable-object-sql", "db.operation.name": "put" });

	// pricing: called through a service binding; its currency lookup fails and falls back.
	const pricingEntry = span(ids.pricing, "fetch", SERVER, 126, 169, undefined, {
		"faas.trigger": "http", "http.request.method": "GET", "url.full": "https://pricing/quote?cart=c-1042", "url.path": "/quote",
		"http.request.header.traceparent": traceparent(toPricing), "http.response.status_code": 200, "cloudflare.entrypoint": "default",
		"cloudflare.execution_model": "stateless", "cloudflare.outcome": "ok",
	});
	const rates = span(ids.pricing, "fetch", CLIENT, 128, 158, pricingEntry.spanId, { "http.request.method": "GET", "url.full": "https://rates.example.net/eur", "http.response.status_code": 503 });
	rates.error = "rates service unavailable";
	rates.events = [{ name: "exception", atMs: t0 + 158, attributes: { "exception.type": "Error", "exception.message": "rates service unavailable" } }];
	const cached = span(ids.pricing, "kv_get", CLIENT, 159, 163, pricingEntry.spanId, { "db.system": "cloudflare-kv", "cloudflare.binding.name": "RATES_CACHE", "db.operation.name": "get" });

	const workers: DemoWorker[] = [
		{ script: "storefront", spans: [entry, session, toCart, toPricing, render] },
		{ script: "cart", spans: [cartEntry, toObject, audit] },
		{ script: "cart-object", spans: [objectEntry, read, reserve, write] },
		{ script: "pricing", spans: [pricingEntry, rates, cached] },
	];
	const [storefront, cart, object, pricing] = workers as [DemoWorker, DemoWorker, DemoWorker, DemoWorker];
	// Exported in pieces and out of order, the way Cloudflare's delayed export delivers them: the
	// Durable Object's spans first, the caller's root span last.
	const requests = [
		exportRequest([{ script: object.script, spans: object.spans.slice(1) }]),
		exportRequest([{ script: pricing.script, spans: pricing.spans }, { script: storefront.script, spans: storefront.spans.slice(1, 3) }]),
		exportRequest([cart, { script: object.script, spans: object.spans.slice(0, 1) }]),
		exportRequest([{ script: storefront.script, spans: [storefront.spans[0]!, ...storefront.spans.slice(3)] }]),
	];
	return {
		traceId: ids.storefront,
		childTraceIds: [ids.cart, ids.object, ids.pricing],
		workers,
		requests,
		spanCount: workers.reduce((n, w) => n + w.spans.length, 0),
	};
}

const nanos = (ms: number) => `${BigInt(Math.round(ms * 1000)) * 1000n}`;

function value(v: string | number | boolean | string[]): Record<string, unknown> {
	if (Array.isArray(v)) return { arrayValue: { values: v.map((s) => ({ stringValue: s })) } };
	if (typeof v === "string") return { stringValue: v };
	if (typeof v === "boolean") return { boolValue: v };
	return Number.isInteger(v) ? { intValue: String(v) } : { doubleValue: v };
}

const keyValues = (attributes: Record<string, string | number | boolean | string[]>) =>
	Object.entries(attributes).map(([key, v]) => ({ key, value: value(v) }));

/** An OTLP/JSON export request with the resource attributes Cloudflare puts on every span. */
export function exportRequest(workers: DemoWorker[]): Record<string, unknown> {
	return {
		resourceSpans: workers.map((worker) => ({
			resource: {
				attributes: keyValues({
					"service.name": worker.script, "cloud.provider": "cloudflare", "cloud.platform": "cloudflare.workers", "faas.name": worker.script,
					"cloudflare.script_name": worker.script, "cloudflare.colo": "AMS", "telemetry.sdk.language": "javascript", "telemetry.sdk.name": "cloudflare",
				}),
			},
			scopeSpans: [{
				scope: { name: "cloudflare" },
				spans: worker.spans.map((s) => ({
					traceId: s.traceId,
					spanId: s.spanId,
					...(s.parentSpanId ? { parentSpanId: s.parentSpanId } : {}),
					name: s.name,
					kind: s.kind,
					startTimeUnixNano: nanos(s.startMs),
					endTimeUnixNano: nanos(s.endMs),
					attributes: keyValues(s.attributes),
					...(s.events ? { events: s.events.map((e) => ({ name: e.name, timeUnixNano: nanos(e.atMs), attributes: keyValues(e.attributes) })) } : {}),
					status: s.error ? { code: 2, message: s.error } : { code: 0 },
				})),
			}],
		})),
	};
}
