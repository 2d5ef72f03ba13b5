// The parts of the Workers runtime the bridge uses, each feature-detected: `tracing` from
// "cloudflare:workers" (absent in older runtimes; `withActiveSpan` is declared in the types but not
// a function in workerd 2026-11-02), and node:diagnostics_channel / node:async_hooks through
// `process.getBuiltinModule`, so that no static `node:` import fails to load (or to bundle) in a
// Worker without Node.js compatibility. Whatever is missing, the bridge degrades to a no-op.
import * as workers from "cloudflare:workers";
import { OTEL_CHANNEL, type SpanExtras } from "./message";

/** The runtime's span, as much of it as the bridge calls (all optional: older runtimes). */
export interface RuntimeSpan {
	readonly isTraced?: boolean;
	spanContext(): { traceId: string; spanId: string; traceFlags?: number };
	setAttribute(key: string, value: string | number | boolean): unknown;
	setStatus?(status: { code: "unset" | "ok" | "error"; message?: string }): unknown;
	updateName?(name: string): unknown;
	recordException?(exception: string | { name?: string; message?: string; stack?: string; code?: string | number }): unknown;
	end(): void;
}

export interface RuntimeTracing {
	startSpan(name: string): RuntimeSpan;
	startActiveSpan<T>(name: string, callback: (span: RuntimeSpan) => T): T;
	getActiveSpan(): RuntimeSpan | undefined;
	withActiveSpan?: <T>(span: RuntimeSpan, callback: () => T) => T;
}

interface Channel {
	publish(message: unknown): void;
}

interface AsyncLocalStorageLike<T> {
	getStore(): T | undefined;
	run<R>(store: T, callback: () => R): R;
}

/** The runtime's `tracing`, when it has the calls the bridge needs. */
export function runtimeTracing(): RuntimeTracing | undefined {
	try {
		const tracing = (workers as unknown as { tracing?: Partial<RuntimeTracing> }).tracing;
		if (tracing && typeof tracing.startSpan === "function" && typeof tracing.startActiveSpan === "function" && typeof tracing.getActiveSpan === "function") {
			return tracing as RuntimeTracing;
		}
	} catch {
		// A runtime whose module namespace throws on access: no tracing.
	}
	return undefined;
}

/** The runtime's active span, or undefined (no tracing, or the call failed). */
export function activeRuntimeSpan(tracing: RuntimeTracing | undefined = runtimeTracing()): RuntimeSpan | undefined {
	try {
		return tracing?.getActiveSpan() ?? undefined;
	} catch {
		return undefined;
	}
}

/** A runtime span's ids, or undefined when it has none worth propagating. */
export function runtimeIds(span: RuntimeSpan | undefined): { traceId: string; spanId: string; traced: boolean } | undefined {
	if (!span) return undefined;
	try {
		const context = span.spanContext();
		const traceId = String(context.traceId).toLowerCase();
		const spanId = String(context.spanId).toLowerCase();
		if (!/^[0-9a-f]{32}$/.test(traceId) || !/^[0-9a-f]{16}$/.test(spanId) || /^0+$/.test(traceId) || /^0+$/.test(spanId)) return undefined;
		return { traceId, spanId, traced: isTraced(span) };
	} catch {
		return undefined;
	}
}

/**
 * Whether the runtime records the span. Its traceFlags stay 0 even for traced spans (workerd
 * 2026-11-02), so `isTraced` decides; a runtime without it is taken to record.
 */
export function isTraced(span: RuntimeSpan): boolean {
	try {
		return span.isTraced ?? true;
	} catch {
		return false;
	}
}

let channel: Channel | null | undefined;

/** Publishes extras for the tail consumer; false when there is no channel or the publish failed. */
export function publishExtras(extras: SpanExtras): boolean {
	if (channel === undefined) channel = builtin<{ channel(name: string): Channel }>("node:diagnostics_channel")?.channel(OTEL_CHANNEL) ?? null;
	if (!channel) return false;
	try {
		channel.publish(extras);
		return true;
	} catch {
		return false;
	}
}

/** A new AsyncLocalStorage, when the runtime has one. */
export function asyncLocalStorage<T>(): AsyncLocalStorageLike<T> | undefined {
	const AsyncLocalStorage = builtin<{ AsyncLocalStorage?: new () => AsyncLocalStorageLike<T> }>("node:async_hooks")?.AsyncLocalStorage;
	try {
		return typeof AsyncLocalStorage === "function" ? new AsyncLocalStorage() : undefined;
	} catch {
		return undefined;
	}
}

function builtin<T>(name: string): T | undefined {
	try {
		const get = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process?.getBuiltinModule;
		return typeof get === "function" ? ((get(name) as T | undefined) ?? undefined) : undefined;
	} catch {
		return undefined;
	}
}
