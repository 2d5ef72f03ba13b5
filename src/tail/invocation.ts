// One Worker invocation's streaming tail events, turned into spans named and attributed like
// Cloudflare's automatic tracing: the onset opens the invocation span, spanOpen/spanClose make its
// child spans, attributes/spanUpdate/log/exception annotate whichever span they were emitted
// under, and return/outcome close the invocation. Everything held is bounded.
import { Span_SpanKind as SpanKind, Status_StatusCode as StatusCode } from "../gen/opentelemetry/proto/trace/v1/trace_pb";
import { parseTraceparent, type ParentContext } from "../stitch/traceparent";

/** An attribute value as the runtime reports it. */
export type TailValue = TailStream.Attribute["value"];

export interface TailSpanEvent {
	name: string;
	timeMs: number;
	attributes: Map<string, TailValue>;
}

export interface TailSpan {
	spanId: string;
	parentSpanId?: string;
	name: string;
	kind: SpanKind;
	startMs: number;
	endMs?: number;
	attributes: Map<string, TailValue>;
	events: TailSpanEvent[];
	status: { code: StatusCode; message?: string };
}

/** Spans one invocation may hold before they are sent; beyond it new spans are dropped and counted. */
export const MAX_BUFFERED_SPANS = 2_000;
/** Log and exception events per span. */
export const MAX_EVENTS_PER_SPAN = 128;
/** Characters kept of a log message or stack trace. */
export const MAX_TEXT = 4_096;

const TRIGGERS: Record<string, string> = { fetch: "http", jsrpc: "other", scheduled: "timer", alarm: "timer", queue: "pubsub", email: "other" };

export class Invocation {
	readonly traceId: string;
	readonly script: string;
	readonly scriptVersion: string | undefined;
	readonly root: TailSpan;
	/** The external caller from a recorded `traceparent`, when it names another trace. */
	readonly caller: ParentContext | undefined;
	/** Events and spans turned away by the bounds above. */
	dropped = 0;
	#open = new Map<string, TailSpan>();
	#closed: TailSpan[] = [];
	#buffered = 1;
	#finished = false;

	/** Throws when the onset's ids are malformed: there is no trace to put the invocation in. */
	constructor(onset: TailStream.TailEvent<TailStream.Onset>) {
		const event = onset.event;
		if (!isId(onset.spanContext.traceId, 32) || !isId(event.spanId, 16)) {
			throw new Error(`onset with malformed ids: trace ${JSON.stringify(onset.spanContext.traceId)}, span ${JSON.stringify(event.spanId)}`);
		}
		this.traceId = onset.spanContext.traceId.toLowerCase();
		// `wrangler dev` leaves scriptName out; OTel's name for an unknown service then applies.
		this.script = event.scriptName ?? "unknown_service:worker";
		this.scriptVersion = event.scriptVersion?.id;
		const info = event.info;
		const attributes = new Map<string, TailValue>([
			["cloudflare.script_name", this.script],
			["cloudflare.execution_model", event.executionModel],
			["cloudflare.handler_type", info.type],
			["faas.trigger", TRIGGERS[info.type] ?? "other"],
			["faas.invocation_id", onset.invocationId],
		]);
		let caller: ParentContext | undefined;
		if (event.entrypoint) attributes.set("cloudflare.entrypoint", event.entrypoint);
		if (event.durableObjectId) attributes.set("cloudflare.durable_object.id", event.durableObjectId);
		if (this.scriptVersion) attributes.set("cloudflare.script_version.id", this.scriptVersion);
		if (event.dispatchNamespace) attributes.set("cloudflare.dispatch_namespace", event.dispatchNamespace);
		if (info.type === "fetch") {
			attributes.set("http.request.method", info.method);
			attributes.set("url.full", info.url);
			const path = safePath(info.url);
			if (path) attributes.set("url.path", path);
			const colo = (info.cfJson as { colo?: unknown } | undefined)?.colo;
			if (typeof colo === "string") attributes.set("cloudflare.colo", colo);
			const traceparent = info.headers.find((h) => h.name.toLowerCase() === "traceparent")?.value;
			// The runtime does not honour an incoming traceparent: an invocation that inherited no
			// context starts a trace of its own. Recording the header lets the stitching rules hang
			// that trace under its external caller. (An invocation that did inherit context was
			// called by a traced Worker, which the runtime has linked already.)
			if (traceparent && !onset.spanContext.spanId) {
				attributes.set("http.request.header.traceparent", [traceparent]);
				caller = parseTraceparent(traceparent);
			}
			const userAgent = info.headers.find((h) => h.name.toLowerCase() === "user-agent")?.value;
			if (userAgent) attributes.set("user_agent.original", userAgent);
		} else if (info.type === "scheduled") {
			attributes.set("faas.cron", info.cron);
		} else if (info.type === "queue") {
			attributes.set("messaging.destination.name", info.queueName);
			attributes.set("messaging.batch.message_count", info.batchSize);
		}
		for (const attribute of event.attributes ?? []) attributes.set(attribute.name, attribute.value);
		this.root = {
			spanId: event.spanId,
			...(isId(onset.spanContext.spanId, 16) ? { parentSpanId: onset.spanContext.spanId } : {}),
			name: info.type,
			kind: info.type === "fetch" || info.type === "jsrpc" ? SpanKind.SERVER : info.type === "queue" ? SpanKind.CONSUMER : SpanKind.INTERNAL,
			startMs: timeOf(onset),
			attributes,
			events: [],
			status: { code: StatusCode.UNSET },
		};
		this.#open.set(this.root.spanId, this.root);
		this.caller = caller && caller.traceId !== this.traceId ? caller : undefined;
	}

	/** True once the outcome closed the invocation span. */
	get finished(): boolean {
		return this.#finished;
	}

	/** How many closed spans wait to be sent. */
	get closedCount(): number {
		return this.#closed.length;
	}

	apply(tail: TailStream.TailEvent<TailStream.EventType>): void {
		if (this.#finished) return;
		const event = tail.event;
		const at = timeOf(tail);
		const target = this.#open.get(tail.spanContext.spanId ?? "") ?? this.root;
		switch (event.type) {
			case "spanOpen": {
				if (this.#buffered >= MAX_BUFFERED_SPANS || !isId(event.spanId, 16) || this.#open.has(event.spanId)) {
					this.dropped++;
					return;
				}
				this.#buffered++;
				const attributes = new Map<string, TailValue>();
				if (event.info?.type === "fetch") {
					attributes.set("http.request.method", event.info.method);
					attributes.set("url.full", event.info.url);
				} else if (event.info?.type === "attributes") {
					for (const attribute of event.info.info) attributes.set(attribute.name, attribute.value);
				}
				this.#open.set(event.spanId, { spanId: event.spanId, parentSpanId: target.spanId, name: event.name, kind: SpanKind.CLIENT, startMs: at, attributes, events: [], status: { code: StatusCode.UNSET } });
				return;
			}
			case "spanClose": {
				const span = this.#open.get(tail.spanContext.spanId ?? "");
				if (!span || span === this.root) return;
				this.#open.delete(span.spanId);
				span.endMs = at;
				if (event.outcome !== "ok") span.status = { code: StatusCode.ERROR, message: event.outcome };
				this.#closed.push(span);
				return;
			}
			case "attributes":
				for (const attribute of event.info) target.attributes.set(attribute.name, attribute.value);
				return;
			case "spanUpdate":
				if (event.info.type === "name") target.name = event.info.name;
				else if (event.info.status.code === "error") target.status = { code: StatusCode.ERROR, ...(event.info.status.message ? { message: event.info.status.message } : {}) };
				else target.status = { code: StatusCode.UNSET };
				return;
			case "exception":
				this.#addEvent(target, "exception", at, [["exception.type", event.name], ["exception.message", clip(event.message)], ...(event.stack ? [["exception.stacktrace", clip(event.stack)] as [string, TailValue]] : [])]);
				target.status = { code: StatusCode.ERROR, message: clip(`${event.name}: ${event.message}`) };
				return;
			case "log":
				this.#addEvent(target, "log", at, [["log.level", event.level], ["log.message", clip(logText(event.message))]]);
				return;
			case "return":
				if (event.info?.type === "fetch") {
					this.root.attributes.set("http.response.status_code", event.info.statusCode);
					if (event.info.statusCode >= 500) this.root.status = { code: StatusCode.ERROR, message: `HTTP ${event.info.statusCode}` };
				}
				return;
			case "outcome":
				this.root.attributes.set("cloudflare.outcome", event.outcome);
				this.root.attributes.set("cloudflare.cpu_time_ms", event.cpuTime);
				this.root.attributes.set("cloudflare.wall_time_ms", event.wallTime);
				if (event.outcome !== "ok" && event.outcome !== "canceled") this.root.status = { code: StatusCode.ERROR, message: event.outcome };
				this.root.endMs = at;
				this.#finish(at);
				return;
			default:
				// diagnosticChannel, streamDiagnostic and event types newer than this code: nothing to show.
				return;
		}
	}

	/** The closed spans not yet handed out; the buffer they held is freed. */
	takeClosed(): TailSpan[] {
		const closed = this.#closed;
		this.#closed = [];
		this.#buffered -= closed.length;
		return closed;
	}

	#finish(at: number): void {
		this.#finished = true;
		// Spans the runtime never closed (the invocation was cut off) end with it.
		for (const span of this.#open.values()) {
			if (span === this.root) continue;
			span.endMs = at;
			span.attributes.set("cloudflare.span_unclosed", true);
			this.#closed.push(span);
		}
		this.#open.clear();
		if (this.dropped > 0) this.root.attributes.set("assembler.tail.dropped_events", this.dropped);
		this.#closed.push(this.root);
	}

	#addEvent(span: TailSpan, name: string, timeMs: number, attributes: [string, TailValue][]): void {
		if (span.events.length >= MAX_EVENTS_PER_SPAN) {
			this.dropped++;
			return;
		}
		span.events.push({ name, timeMs, attributes: new Map(attributes) });
	}
}

function isId(value: unknown, length: number): value is string {
	return typeof value === "string" && value.length === length && /^[0-9a-fA-F]+$/.test(value) && !/^0+$/.test(value);
}

function timeOf(event: { timestamp: Date | string | number }): number {
	const ms = event.timestamp instanceof Date ? event.timestamp.getTime() : new Date(event.timestamp).getTime();
	return Number.isFinite(ms) ? ms : Date.now();
}

function safePath(url: string): string | undefined {
	try {
		return new URL(url).pathname;
	} catch {
		return undefined;
	}
}

/** console.log's arguments arrive as an array; strings print as they are, the rest as JSON. */
function logText(message: unknown): string {
	const parts = Array.isArray(message) ? message : [message];
	return parts.map((part) => (typeof part === "string" ? part : json(part))).join(" ");
}

function json(value: unknown): string {
	try {
		return JSON.stringify(value, (_, v) => (typeof v === "bigint" ? v.toString() : v)) ?? String(value);
	} catch {
		return String(value);
	}
}

function clip(text: string): string {
	return text.length > MAX_TEXT ? `${text.slice(0, MAX_TEXT)}…` : text;
}
