// One call installs the bridge as @opentelemetry/api's global TracerProvider, ContextManager and
// propagator. Idempotent; never throws (a Worker must start even if registration fails).
import { context, propagation, trace } from "@opentelemetry/api";
import { RuntimeContextManager } from "./context-manager";
import { TraceContextPropagator } from "./propagator";
import { runtimeTracing, type RuntimeTracing } from "./runtime";
import { RuntimeTracerProvider } from "./tracer";

export interface RegisterOptions {
	/** The runtime's tracing API (default: `tracing` from "cloudflare:workers"; `ctx.tracing` works too). */
	tracing?: RuntimeTracing;
}

let registered: boolean | undefined;

/**
 * Makes code written against @opentelemetry/api produce the runtime's own spans. Returns true when
 * the runtime has a tracing API (spans are recorded), false when the bridge stays a no-op (or
 * another SDK registered first: the API keeps the first global of each kind).
 */
export function registerRuntimeTracing(options: RegisterOptions = {}): boolean {
	if (registered !== undefined) return registered;
	try {
		const tracing = options.tracing ?? runtimeTracing();
		const contexts = new RuntimeContextManager(tracing);
		const installed = [
			context.setGlobalContextManager(contexts),
			trace.setGlobalTracerProvider(new RuntimeTracerProvider(tracing)),
			propagation.setGlobalPropagator(new TraceContextPropagator()),
		];
		registered = tracing !== undefined && installed.every(Boolean);
	} catch (e) {
		console.warn(`workers-trace-assembler/otel: not registered: ${(e as Error).message}`);
		registered = false;
	}
	return registered;
}
