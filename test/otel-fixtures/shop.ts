// A Worker instrumented only through @opentelemetry/api, for test/otel.test.ts and the end-to-end
// test: `registerRuntimeTracing()` is its whole tracing setup. Its spans are the runtime's own, and
// the extras (events, links, arrays, kind, parents) reach the assembler's tail consumer. Bundled by
// test/otel-fixtures/build.ts (auxiliary Workers load plain JavaScript).
//
// GET /checkout answers with the ids its spans had (spanContext(), the runtime's real ids), so the
// test can compare the stored trace with them. It calls PAYMENTS_URL over HTTP (not a binding) with
// `traceparent` from `propagation.inject`.
import { DurableObject } from "cloudflare:workers";
import { context, propagation, SpanKind, SpanStatusCode, trace, type Span } from "@opentelemetry/api";
import { registerRuntimeTracing } from "../../src/otel";

const registered = registerRuntimeTracing();
const tracer = trace.getTracer("shop", "1.0.0");

interface Env {
	PAYMENTS_URL?: string;
	// End to end only (test/e2e/otel.test.ts): `wrangler dev` with several configs serves only this
	// Worker's port, so it passes /v1/* to the assembler and /catalog/* to the Hono Worker.
	ASSEMBLER?: Fetcher;
	CATALOG?: Fetcher;
	LEDGER?: DurableObjectNamespace<Ledger>;
}

/** A Durable Object whose OTel span nests under its own invocation, inside the caller's trace. */
export class Ledger extends DurableObject {
	override async fetch(request: Request): Promise<Response> {
		return tracer.startActiveSpan("ledger.write", async (span) => {
			span.setAttribute("ledger.entries", [request.headers.get("x-cart") ?? "?"]);
			await this.ctx.storage.put("last", Date.now());
			span.end();
			return Response.json(span.spanContext());
		});
	}
}

export default {
	async fetch(request: Request, env: Env): Promise<Response> {
		const url = new URL(request.url);
		if (url.pathname === "/pay") return pay(request);
		if (url.pathname.startsWith("/v1/") && env.ASSEMBLER) return env.ASSEMBLER.fetch(request);
		if (url.pathname.startsWith("/catalog/") && env.CATALOG) return env.CATALOG.fetch(new Request(new URL(url.pathname.slice("/catalog".length), "https://catalog.example"), request));
		const ids: Record<string, string> = {};
		const note = (name: string, span: Span) => (ids[name] = span.spanContext().spanId);
		// Outside any OTel span the active span is the runtime's own invocation span.
		const invocation = trace.getActiveSpan();
		if (invocation) {
			note("invocation", invocation);
			invocation.setAttribute("shop.tenant", "acme");
			invocation.addEvent("request.accepted", { "shop.queue": ["web"] });
		}
		const linked = { traceId: "4bf92f3577b34da6a3ce929d0e0e4736", spanId: "00f067aa0ba902b7", traceFlags: 1 };

		const result = await tracer.startActiveSpan("checkout", { kind: SpanKind.SERVER, attributes: { "shop.cart_id": "c-42" } }, async (checkout) => {
			note("checkout", checkout);
			checkout.setAttributes({
				"shop.items": 3,
				"shop.total": 42.5,
				"shop.express": true,
				"shop.skus": ["sku-1", "sku-2"],
				"shop.quantities": [1, 2],
				"shop.flags": [true, false],
			});
			checkout.addEvent("cart.loaded", { "cart.size": 3, "cart.skus": ["sku-1", "sku-2"] });

			// A detached span, made active with context.with: its child must hang under it.
			const pricing = tracer.startSpan("pricing", { kind: SpanKind.INTERNAL, links: [{ context: linked, attributes: { "link.reason": "quote" } }] });
			note("pricing", pricing);
			await context.with(trace.setSpan(context.active(), pricing), () =>
				tracer.startActiveSpan("tax", async (tax) => {
					note("tax", tax);
					tax.addLink({ context: { ...linked, spanId: "00f067aa0ba902b8" } });
					await scheduler.wait(1);
					tax.end();
				}),
			);
			pricing.addEvent("priced");
			pricing.end();

			await tracer.startActiveSpan("reserve", { kind: SpanKind.CLIENT }, async (reserve) => {
				note("reserve", reserve);
				try {
					throw new RangeError("sku-2 is sold out");
				} catch (e) {
					reserve.recordException(e as Error);
					reserve.setStatus({ code: SpanStatusCode.ERROR, message: "sold out" });
				}
				reserve.updateName("reserve sku-2");
				reserve.end();
			});

			// Explicit times, and an exception recorded without an error status (OTel leaves it unset).
			const auditStart = Date.now() - 1_000;
			const audit = tracer.startSpan("audit", { startTime: auditStart });
			note("audit", audit);
			audit.recordException("audit log unavailable");
			audit.end(auditStart + 5);
			ids.auditStart = String(auditStart);

			if (env.LEDGER) ids.ledger = ((await (await env.LEDGER.getByName("c-42").fetch("https://ledger/write", { headers: { "x-cart": "c-42" } })).json()) as { spanId: string }).spanId;

			let paid: unknown;
			if (env.PAYMENTS_URL) {
				const headers: Record<string, string> = {};
				propagation.inject(context.active(), headers);
				const response = await fetch(`${env.PAYMENTS_URL}/pay`, { method: "POST", headers });
				paid = await response.json();
			}
			checkout.setStatus({ code: SpanStatusCode.OK });
			checkout.end();
			return { traceId: checkout.spanContext().traceId, paid };
		});
		return Response.json({ registered, ids, ...result });
	},
};

/** The HTTP callee: continues the caller's trace from the incoming traceparent. */
async function pay(request: Request): Promise<Response> {
	const parent = propagation.extract(context.active(), Object.fromEntries(request.headers));
	return tracer.startActiveSpan("charge", { kind: SpanKind.SERVER }, parent, async (charge) => {
		charge.setAttribute("payment.amount", 42.5);
		await scheduler.wait(1);
		charge.end();
		return Response.json({ traceparent: request.headers.get("traceparent"), charge: charge.spanContext() });
	});
}
