// OpenTelemetry tracers whose spans are runtime spans. The runtime nests a new span under its own
// active span; when the OTel caller asked for another parent (an explicit context, or a span made
// active with `context.with` where the runtime has no `withActiveSpan`), that parent travels to the
// tail consumer with the span's extras. Without runtime tracing, or for an invocation the runtime
// does not trace, spans are non-recording and cost one check.
import { context as contextApi, INVALID_SPAN_CONTEXT, trace, type Context, type Span, type SpanOptions, type Tracer, type TracerProvider } from "@opentelemetry/api";
import { BridgeSpan } from "./span";
import { activeRuntimeSpan, runtimeIds, type RuntimeSpan, type RuntimeTracing } from "./runtime";

export class RuntimeTracer implements Tracer {
	readonly #tracing: RuntimeTracing | undefined;

	constructor(tracing: RuntimeTracing | undefined) {
		this.#tracing = tracing;
	}

	startSpan(name: string, options: SpanOptions = {}, ctx: Context = contextApi.active()): Span {
		const parent = options.root ? undefined : trace.getSpan(ctx);
		const runtimeParent = this.#traced();
		if (!runtimeParent) return nonRecording(parent);
		let runtime: RuntimeSpan;
		try {
			runtime = this.#tracing!.startSpan(String(name));
		} catch {
			return nonRecording(parent);
		}
		return this.#bridge(runtime, runtimeParent.spanId, parent, options) ?? nonRecording(parent, runtime);
	}

	startActiveSpan<F extends (span: Span) => unknown>(name: string, fn: F): ReturnType<F>;
	startActiveSpan<F extends (span: Span) => unknown>(name: string, options: SpanOptions, fn: F): ReturnType<F>;
	startActiveSpan<F extends (span: Span) => unknown>(name: string, options: SpanOptions, ctx: Context, fn: F): ReturnType<F>;
	startActiveSpan<F extends (span: Span) => unknown>(name: string, a?: SpanOptions | F, b?: Context | F, c?: F): ReturnType<F> {
		const fn = (typeof a === "function" ? a : typeof b === "function" ? b : c) as F;
		const options = (typeof a === "object" && a !== null ? a : {}) as SpanOptions;
		const ctx = (typeof b === "object" && b !== null ? b : contextApi.active()) as Context;
		const parent = options.root ? undefined : trace.getSpan(ctx);
		const runInside = (span: Span) => contextApi.with(trace.setSpan(ctx, span), fn as (span: Span) => ReturnType<F>, undefined, span);
		const runtimeParent = this.#traced();
		if (!runtimeParent) return runInside(nonRecording(parent));
		// The runtime's startActiveSpan makes the span active for whatever the runtime starts inside
		// fn (its own fetch and storage spans too); like OTel's, it leaves ending the span to fn.
		let called = false;
		try {
			return this.#tracing!.startActiveSpan(String(name), (runtime) => {
				called = true;
				return runInside(this.#bridge(runtime, runtimeParent.spanId, parent, options) ?? nonRecording(parent, runtime));
			});
		} catch (e) {
			if (called) throw e;
			return runInside(nonRecording(parent));
		}
	}

	/** The runtime's active span when the invocation is traced: the parent the runtime will pick. */
	#traced(): { spanId: string } | undefined {
		if (!this.#tracing) return undefined;
		const ids = runtimeIds(activeRuntimeSpan(this.#tracing));
		return ids?.traced ? ids : undefined;
	}

	#bridge(runtime: RuntimeSpan, runtimeParentId: string, parent: Span | undefined, options: SpanOptions): BridgeSpan | undefined {
		const ids = runtimeIds(runtime);
		if (!ids) return undefined;
		// Another parent only when it is a span of this trace the runtime did not pick; a remote
		// parent from another trace (an incoming traceparent) is the assembler's stitching to do.
		const wanted = parent?.spanContext();
		const override = wanted && !wanted.isRemote && wanted.traceId === ids.traceId && wanted.spanId !== runtimeParentId ? wanted.spanId : undefined;
		return new BridgeSpan(runtime, ids, true, options.kind).started(override, options.startTime, options.links, options.attributes);
	}
}

/**
 * A span that records nothing and carries its parent's context (OTel's behaviour for an unsampled
 * parent). A runtime span that could not be bridged (its ids unreadable) is ended at once.
 */
function nonRecording(parent: Span | undefined, unusable?: RuntimeSpan): Span {
	try {
		unusable?.end();
	} catch {
		// Nothing more to do about a runtime span that can neither be read nor ended.
	}
	return trace.wrapSpanContext(parent?.spanContext() ?? INVALID_SPAN_CONTEXT);
}

export class RuntimeTracerProvider implements TracerProvider {
	readonly #tracer: RuntimeTracer;

	constructor(tracing: RuntimeTracing | undefined) {
		this.#tracer = new RuntimeTracer(tracing);
	}

	/** One tracer for every name and version: the runtime has no instrumentation scopes. */
	getTracer(): Tracer {
		return this.#tracer;
	}
}
