// An OpenTelemetry Span over a runtime span. What the runtime takes goes straight to it (so
// Cloudflare's own trace export shows it too); the rest (kind, the parent the caller asked for,
// explicit times, array attributes, events, links, the final OTel status) is gathered and published
// once, just before the runtime span ends, for the assembler's tail consumer (src/otel/message.ts).
// Every runtime call is guarded: instrumentation must never break the Worker it instruments.
import { SpanKind, SpanStatusCode, TraceFlags, type Attributes, type AttributeValue, type Exception, type Link, type Span, type SpanContext, type SpanStatus, type TimeInput } from "@opentelemetry/api";
import type { ExtraEvent, ExtraLink, ExtraValue, SpanExtras, SpanKindName, StatusName } from "./message";
import { OTEL_MESSAGE_VERSION } from "./message";
import { publishExtras, type RuntimeSpan } from "./runtime";

/** Events and links one span gathers before it counts the rest as dropped. */
export const MAX_EXTRAS_PER_SPAN = 128;

const KIND_NAMES: Record<SpanKind, SpanKindName> = {
	[SpanKind.INTERNAL]: "internal",
	[SpanKind.SERVER]: "server",
	[SpanKind.CLIENT]: "client",
	[SpanKind.PRODUCER]: "producer",
	[SpanKind.CONSUMER]: "consumer",
};
const STATUS_NAMES: Record<SpanStatusCode, StatusName> = { [SpanStatusCode.UNSET]: "unset", [SpanStatusCode.OK]: "ok", [SpanStatusCode.ERROR]: "error" };

export class BridgeSpan implements Span {
	readonly runtime: RuntimeSpan;
	readonly #context: SpanContext;
	/** Started by the bridge (it ends it and publishes once); false for the invocation's own span. */
	readonly #owned: boolean;
	#ended = false;
	/** Whether the runtime records this span: fixed when it starts, so read once. */
	readonly #traced: boolean;
	#extras: SpanExtras;
	/** Keys whose values went to the consumer rather than (only) the runtime: later values follow. */
	#pinned: Set<string> | undefined;
	#count = 0;

	constructor(runtime: RuntimeSpan, ids: { traceId: string; spanId: string; traced: boolean }, owned: boolean, kind: SpanKind = SpanKind.INTERNAL) {
		this.runtime = runtime;
		this.#owned = owned;
		this.#traced = ids.traced;
		this.#context = { traceId: ids.traceId, spanId: ids.spanId, traceFlags: ids.traced ? TraceFlags.SAMPLED : TraceFlags.NONE, isRemote: false };
		this.#extras = { v: OTEL_MESSAGE_VERSION, span: ids.spanId, ...(owned ? { kind: KIND_NAMES[kind] ?? "internal" } : {}) };
	}

	spanContext(): SpanContext {
		return this.#context;
	}

	isRecording(): boolean {
		return !this.#ended && this.#traced;
	}

	setAttribute(key: string, value: AttributeValue | undefined): this {
		if (this.#ended || value === undefined || value === null) return this;
		if (Array.isArray(value)) {
			// The runtime would store String(value) ("a,b"): it gets JSON instead, the consumer the array.
			const kept = (value as unknown[]).filter((v): v is string | number | boolean => v !== null && v !== undefined);
			this.#call(() => this.runtime.setAttribute(key, json(kept)));
			this.#extra(key, kept);
			return this;
		}
		switch (typeof value) {
			case "string":
			case "number":
			case "boolean":
				this.#call(() => this.runtime.setAttribute(key, value));
				if (this.#pinned?.has(key)) this.#extra(key, value);
				return this;
			case "bigint":
				// Not an OTel attribute type, but common enough: the consumer keeps it as an integer.
				this.#call(() => this.runtime.setAttribute(key, String(value)));
				this.#extra(key, value);
				return this;
			default:
				this.#call(() => this.runtime.setAttribute(key, json(value)));
				if (this.#pinned?.has(key)) this.#extra(key, json(value));
				return this;
		}
	}

	setAttributes(attributes: Attributes): this {
		if (attributes && typeof attributes === "object") for (const [key, value] of Object.entries(attributes)) this.setAttribute(key, value);
		return this;
	}

	addEvent(name: string, attributesOrTime?: Attributes | TimeInput, time?: TimeInput): this {
		if (this.#ended) return this;
		const attributesGiven = attributesOrTime !== undefined && !isTimeInput(attributesOrTime);
		const at = toMillis(attributesGiven ? time : (attributesOrTime as TimeInput | undefined)) ?? Date.now();
		const event: ExtraEvent = { name: String(name), time: at };
		if (attributesGiven) {
			const attributes = extraAttributes(attributesOrTime as Attributes);
			if (attributes) event.attributes = attributes;
		}
		if (this.#room()) (this.#extras.events ??= []).push(event);
		this.#publishNow();
		return this;
	}

	addLink(link: Link): this {
		if (this.#ended || !link?.context) return this;
		const { traceId, spanId, traceState } = link.context;
		const extra: ExtraLink = { traceId, spanId };
		const state = traceState?.serialize();
		if (state) extra.traceState = state;
		const attributes = link.attributes ? extraAttributes(link.attributes) : undefined;
		if (attributes) extra.attributes = attributes;
		if (this.#room()) (this.#extras.links ??= []).push(extra);
		this.#publishNow();
		return this;
	}

	addLinks(links: Link[]): this {
		for (const link of links ?? []) this.addLink(link);
		return this;
	}

	setStatus(status: SpanStatus): this {
		if (this.#ended || !status) return this;
		const code = STATUS_NAMES[status.code] ?? "unset";
		const message = code === "error" && typeof status.message === "string" ? status.message : undefined;
		this.#call(() => this.runtime.setStatus?.({ code, ...(message !== undefined ? { message } : {}) }));
		if (this.#owned) this.#extras.status = { code, ...(message !== undefined ? { message } : {}) };
		return this;
	}

	updateName(name: string): this {
		if (!this.#ended) this.#call(() => this.runtime.updateName?.(String(name)));
		return this;
	}

	recordException(exception: Exception, time?: TimeInput): void {
		if (this.#ended) return;
		// The runtime records it as an exception event (and the consumer would mark the span failed,
		// as for an uncaught exception): an owned span's final OTel status travels in its extras,
		// so recording an exception does not by itself set an error status, as in OpenTelemetry.
		let recorded = false;
		if (typeof this.runtime.recordException === "function") {
			recorded = this.#call(() => this.runtime.recordException!(runtimeException(exception)));
		}
		if (this.#owned) this.#extras.status ??= { code: "unset" };
		if (recorded) return;
		// The runtime could not record it: it goes to the consumer as OpenTelemetry's exception event.
		const attributes: Record<string, string> = {};
		if (typeof exception === "string") attributes["exception.message"] = exception;
		else if (exception) {
			if (exception.name) attributes["exception.type"] = String(exception.name);
			else if (exception.code !== undefined) attributes["exception.type"] = String(exception.code);
			if (exception.message) attributes["exception.message"] = String(exception.message);
			if (exception.stack) attributes["exception.stacktrace"] = String(exception.stack);
		}
		this.addEvent("exception", attributes, time);
	}

	end(endTime?: TimeInput): void {
		if (this.#ended) return;
		this.#ended = true;
		if (!this.#owned) return;
		const end = toMillis(endTime);
		if (end !== undefined) this.#extras.end = end;
		if (this.#traced) publishExtras(this.#extras);
		this.#call(() => this.runtime.end());
	}

	/** Extras known when the span starts: the parent the caller asked for, a start time, links. */
	started(parent: string | undefined, startTime: TimeInput | undefined, links: Link[] | undefined, attributes: Attributes | undefined): this {
		if (parent) this.#extras.parent = parent;
		const start = toMillis(startTime);
		if (start !== undefined) this.#extras.start = start;
		if (attributes) this.setAttributes(attributes);
		if (links) this.addLinks(links);
		return this;
	}

	#extra(key: string, value: ExtraValue): void {
		(this.#pinned ??= new Set()).add(key);
		(this.#extras.attributes ??= {})[key] = value;
		this.#publishNow();
	}

	#room(): boolean {
		if (this.#count < MAX_EXTRAS_PER_SPAN) {
			this.#count++;
			return true;
		}
		this.#extras.dropped = (this.#extras.dropped ?? 0) + 1;
		return false;
	}

	/** A span the bridge did not start is never ended by it: its extras go out one call at a time. */
	#publishNow(): void {
		if (this.#owned) return;
		if (this.#traced) publishExtras(this.#extras);
		this.#extras = { v: OTEL_MESSAGE_VERSION, span: this.#extras.span };
	}

	/** Runs a runtime call; false if it threw (the Worker goes on, the value is simply not recorded). */
	#call(run: () => unknown): boolean {
		try {
			run();
			return true;
		} catch {
			return false;
		}
	}
}

function extraAttributes(attributes: Attributes): Record<string, ExtraValue> | undefined {
	let out: Record<string, ExtraValue> | undefined;
	for (const [key, value] of Object.entries(attributes)) {
		if (value === undefined || value === null) continue;
		const kept: ExtraValue = Array.isArray(value)
			? (value as unknown[]).filter((v): v is string | number | boolean => v !== null && v !== undefined)
			: typeof value === "object"
				? json(value)
				: (value as string | number | boolean);
		(out ??= {})[key] = kept;
	}
	return out;
}

function runtimeException(exception: Exception): string | { name?: string; message?: string; stack?: string; code?: string | number } {
	if (typeof exception === "string") return exception;
	if (!exception || typeof exception !== "object") return String(exception);
	const out: { name?: string; message?: string; stack?: string; code?: string | number } = {};
	if (exception.name !== undefined) out.name = String(exception.name);
	if (exception.message !== undefined) out.message = String(exception.message);
	if (exception.stack !== undefined) out.stack = String(exception.stack);
	if (exception.code !== undefined) out.code = exception.code;
	// The runtime wants a name, a message or a code.
	return out.name === undefined && out.message === undefined && out.code === undefined ? json(exception) : out;
}

function isTimeInput(value: unknown): value is TimeInput {
	return typeof value === "number" || value instanceof Date || (Array.isArray(value) && value.length === 2 && typeof value[0] === "number" && typeof value[1] === "number");
}

/**
 * Milliseconds since the epoch from an OTel TimeInput: HrTime [s, ns], a Date, or a number —
 * epoch milliseconds, or (below ~2001) milliseconds since `performance.timeOrigin`, as OTel reads it.
 */
export function toMillis(time: TimeInput | undefined): number | undefined {
	let ms: number | undefined;
	if (typeof time === "number") ms = time < 1e12 ? (performance.timeOrigin || 0) + time : time;
	else if (time instanceof Date) ms = time.getTime();
	else if (Array.isArray(time) && time.length === 2) ms = time[0] * 1e3 + time[1] / 1e6;
	return ms !== undefined && Number.isFinite(ms) && ms > 0 ? ms : undefined;
}

function json(value: unknown): string {
	try {
		return JSON.stringify(value, (_, v) => (typeof v === "bigint" ? v.toString() : v)) ?? String(value);
	} catch {
		return String(value);
	}
}
