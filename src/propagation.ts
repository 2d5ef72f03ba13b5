// Propagation helper for your own Workers (import "workers-trace-assembler/propagation").
//
// A call through a service binding or to a Durable Object stub can start a separate trace for the
// callee. The assembler joins the two when the callee's span recorded the caller's context as the
// attribute `http.request.header.traceparent`. This module does both halves with
// @opentelemetry/api alone, so it works with any tracer (the OTel SDK, otel-cf-workers):
//
//   caller:  await tracedFetch(env.CART, "https://cart/checkout", { method: "POST" });
//   callee:  recordIncomingTraceparent(request);   // inside the fetch handler's span
//
// W3C Trace Context is written and read here rather than through `propagation.inject`, because the
// API's global propagator is a no-op until an SDK registers one, and a Worker often has none.
// Without an OTel span in the active context, the runtime's own active span (the invocation, or a
// custom span) is propagated when the runtime traces the request: its ids are the ones the
// runtime's trace (and the assembler's tail consumer) carry, so nothing needs merging.
import { context as contextApi, trace, TraceFlags, type Context, type Span, type SpanContext } from "@opentelemetry/api";
import { formatTraceparent, parseTraceparent } from "./stitch/traceparent";
import { activeRuntimeSpan, runtimeIds } from "./otel/runtime";

/** The attribute the assembler's default stitching rule reads (`STITCH_ATTRIBUTES`). */
export const TRACEPARENT_ATTRIBUTE = "http.request.header.traceparent";

/** Anything with `fetch`: a service binding (`Fetcher`) or a Durable Object stub. */
export interface FetchTarget {
	fetch(input: RequestInfo | URL, init?: RequestInit): Promise<Response>;
}

/**
 * The `traceparent` for a context's span. Without `ctx`: the active context's span, or else the
 * runtime's active span when the runtime traces the request. Undefined when there is neither.
 */
export function traceparentOf(ctx?: Context): string | undefined {
	const span = trace.getSpanContext(ctx ?? contextApi.active());
	if (span && trace.isSpanContextValid(span)) return formatTraceparent({ traceId: span.traceId, spanId: span.spanId, flags: span.traceFlags & 0xff });
	if (ctx !== undefined) return undefined;
	const runtime = runtimeIds(activeRuntimeSpan());
	return runtime?.traced ? formatTraceparent({ traceId: runtime.traceId, spanId: runtime.spanId, flags: TraceFlags.SAMPLED }) : undefined;
}

/**
 * Sets `traceparent` on `headers` from the active span (or `ctx`'s; see traceparentOf) and returns
 * them. Without a valid span the headers are left as they are, so calls outside a trace are unchanged.
 */
export function injectTraceparent(headers: Headers, ctx?: Context): Headers {
	const value = traceparentOf(ctx);
	if (value) headers.set("traceparent", value);
	return headers;
}

/**
 * `target.fetch(input, init)` with the caller's context propagated: a service binding's or a
 * Durable Object stub's callee sees `traceparent` for the active span (or `ctx`'s).
 */
export function tracedFetch(target: FetchTarget, input: RequestInfo | URL, init?: RequestInit, ctx?: Context): Promise<Response> {
	const request = new Request(input, init);
	injectTraceparent(request.headers, ctx);
	return target.fetch(request);
}

/** The caller's span context from an incoming request's `traceparent`, or undefined if absent or malformed. */
export function incomingSpanContext(request: Request): SpanContext | undefined {
	const header = request.headers.get("traceparent");
	const parent = header ? parseTraceparent(header) : undefined;
	if (!parent) return undefined;
	return { traceId: parent.traceId, spanId: parent.spanId, traceFlags: parent.flags & TraceFlags.SAMPLED, isRemote: true };
}

/**
 * Records the request's `traceparent` on `span` (default: the active span) as
 * `http.request.header.traceparent`, the OTel convention for a recorded request header (an array
 * of strings), so the assembler can hang this trace under the caller's span. Returns the
 * caller's span context; a missing or malformed header records nothing.
 */
export function recordIncomingTraceparent(request: Request, span: Span | undefined = trace.getActiveSpan()): SpanContext | undefined {
	const caller = incomingSpanContext(request);
	if (caller && span) span.setAttribute(TRACEPARENT_ATTRIBUTE, [request.headers.get("traceparent")!]);
	return caller;
}

/**
 * A context whose parent is the caller's span, for tracers that can continue the caller's trace
 * directly (then no merge is needed at all); the active context when the request has none.
 */
export function contextFromRequest(request: Request, ctx: Context = contextApi.active()): Context {
	const caller = incomingSpanContext(request);
	return caller ? trace.setSpanContext(ctx, caller) : ctx;
}
