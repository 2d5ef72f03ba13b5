// The OpenTelemetry context manager on the runtime: contexts follow async work through
// AsyncLocalStorage (when the runtime has it; otherwise through a synchronous stack), and a context
// without a span falls back to the runtime's active span — the invocation, a Durable Object call,
// or a custom span started through the runtime API — so `trace.getActiveSpan()` and
// `propagation.inject` see the runtime's real ids even outside any OTel span.
//
// `context.with(trace.setSpan(ctx, span), fn)` for a span that is not the runtime's active one makes
// it active in the runtime too where the runtime allows it (`tracing.withActiveSpan`, when that is
// a function). Where it does not, spans started inside still get the OTel parent: the tracer sends
// the parent the caller asked for to the tail consumer (src/otel/tracer.ts).
import { ROOT_CONTEXT, trace, type Context, type ContextManager } from "@opentelemetry/api";
import { BridgeSpan } from "./span";
import { activeRuntimeSpan, asyncLocalStorage, runtimeIds, runtimeTracing, type RuntimeSpan, type RuntimeTracing } from "./runtime";

export class RuntimeContextManager implements ContextManager {
	readonly #tracing: RuntimeTracing | undefined;
	readonly #storage = asyncLocalStorage<Context>();
	#stack: Context[] = [];
	/** Wrappers of runtime spans the bridge did not start, by runtime span object. */
	readonly #foreign = new WeakMap<object, BridgeSpan>();
	#enabled = true;

	constructor(tracing: RuntimeTracing | undefined = runtimeTracing()) {
		this.#tracing = tracing;
	}

	active(): Context {
		const stored = (this.#enabled ? (this.#storage ? this.#storage.getStore() : this.#stack.at(-1)) : undefined) ?? ROOT_CONTEXT;
		if (!this.#tracing || trace.getSpan(stored)) return stored;
		const span = this.runtimeActiveSpan();
		return span ? trace.setSpan(stored, span) : stored;
	}

	/** The runtime's active span as an OTel span (recording if the runtime records it). */
	runtimeActiveSpan(): BridgeSpan | undefined {
		const runtime = activeRuntimeSpan(this.#tracing);
		if (!runtime) return undefined;
		return this.wrap(runtime);
	}

	/** A runtime span the bridge did not start (the invocation's own span, say), wrapped once. */
	wrap(runtime: RuntimeSpan): BridgeSpan | undefined {
		const known = typeof runtime === "object" ? this.#foreign.get(runtime) : undefined;
		if (known) return known;
		const ids = runtimeIds(runtime);
		if (!ids) return undefined;
		const span = new BridgeSpan(runtime, ids, false);
		if (typeof runtime === "object") this.#foreign.set(runtime, span);
		return span;
	}

	with<A extends unknown[], F extends (...args: A) => ReturnType<F>>(ctx: Context, fn: F, thisArg?: ThisParameterType<F>, ...args: A): ReturnType<F> {
		const run = () => this.#run(ctx, () => fn.apply(thisArg, args));
		const span = trace.getSpan(ctx);
		const withActiveSpan = this.#tracing?.withActiveSpan;
		if (span instanceof BridgeSpan && typeof withActiveSpan === "function" && runtimeIds(activeRuntimeSpan(this.#tracing))?.spanId !== span.spanContext().spanId) {
			let called = false;
			try {
				return withActiveSpan.call(this.#tracing, span.runtime, () => {
					called = true;
					return run();
				}) as ReturnType<F>;
			} catch (e) {
				if (called) throw e;
				// The runtime refused before running fn: run it without making the span active there.
			}
		}
		return run();
	}

	bind<T>(ctx: Context, target: T): T {
		if (typeof target !== "function") return target;
		const manager = this;
		const bound = function (this: unknown, ...args: unknown[]) {
			return manager.with(ctx, () => (target as (...a: unknown[]) => unknown).apply(this, args));
		};
		return bound as T;
	}

	enable(): this {
		this.#enabled = true;
		return this;
	}

	disable(): this {
		this.#enabled = false;
		this.#stack = [];
		return this;
	}

	#run<R>(ctx: Context, fn: () => R): R {
		if (this.#storage) return this.#storage.run(ctx, fn);
		// Without AsyncLocalStorage the context holds for the synchronous part of fn only.
		this.#stack.push(ctx);
		try {
			return fn();
		} finally {
			this.#stack.pop();
		}
	}
}
