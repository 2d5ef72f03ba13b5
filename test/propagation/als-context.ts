// An OpenTelemetry context manager on AsyncLocalStorage (nodejs_compat), as Worker tracers such as
// otel-cf-workers install one: it makes `trace.getActiveSpan()` work across awaits, which is what
// the propagation helper reads by default.
import { AsyncLocalStorage } from "node:async_hooks";
import { context, ROOT_CONTEXT, type Context, type ContextManager } from "@opentelemetry/api";

class AsyncLocalStorageContextManager implements ContextManager {
	#storage = new AsyncLocalStorage<Context>();
	active(): Context {
		return this.#storage.getStore() ?? ROOT_CONTEXT;
	}
	with<A extends unknown[], F extends (...args: A) => ReturnType<F>>(ctx: Context, fn: F, thisArg?: ThisParameterType<F>, ...args: A): ReturnType<F> {
		return this.#storage.run(ctx, () => fn.apply(thisArg, args));
	}
	bind<T>(ctx: Context, target: T): T {
		if (typeof target !== "function") return target;
		const manager = this;
		return function (this: unknown, ...args: unknown[]) {
			return manager.with(ctx, () => target.apply(this, args));
		} as T;
	}
	enable(): this {
		return this;
	}
	disable(): this {
		return this;
	}
}

context.setGlobalContextManager(new AsyncLocalStorageContextManager());
