// W3C Trace Context (`traceparent`, `tracestate`) as an OpenTelemetry TextMapPropagator, with
// @opentelemetry/api alone. Injecting from the active context writes the runtime's real ids (the
// context manager falls back to the runtime's active span), so a callee outside Cloudflare
// continues the very trace the runtime records.
import { createTraceState, isSpanContextValid, trace, TraceFlags, type Context, type TextMapGetter, type TextMapPropagator, type TextMapSetter } from "@opentelemetry/api";
import { formatTraceparent, parseTraceparent } from "../stitch/traceparent";

const TRACEPARENT = "traceparent";
const TRACESTATE = "tracestate";

export class TraceContextPropagator implements TextMapPropagator {
	inject(ctx: Context, carrier: unknown, setter: TextMapSetter): void {
		const span = trace.getSpanContext(ctx);
		if (!span || !isSpanContextValid(span)) return;
		setter.set(carrier, TRACEPARENT, formatTraceparent({ traceId: span.traceId, spanId: span.spanId, flags: span.traceFlags & 0xff }));
		const state = span.traceState?.serialize();
		if (state) setter.set(carrier, TRACESTATE, state);
	}

	extract(ctx: Context, carrier: unknown, getter: TextMapGetter): Context {
		const header = first(getter.get(carrier, TRACEPARENT));
		const parent = header ? parseTraceparent(header) : undefined;
		if (!parent) return ctx;
		const state = getter.get(carrier, TRACESTATE);
		const joined = Array.isArray(state) ? state.join(",") : state;
		return trace.setSpanContext(ctx, {
			traceId: parent.traceId,
			spanId: parent.spanId,
			traceFlags: parent.flags & TraceFlags.SAMPLED,
			isRemote: true,
			...(joined ? { traceState: createTraceState(joined) } : {}),
		});
	}

	fields(): string[] {
		return [TRACEPARENT, TRACESTATE];
	}
}

function first(value: string | string[] | undefined): string | undefined {
	return Array.isArray(value) ? value[0] : value;
}
