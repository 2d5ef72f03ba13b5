// One Worker invocation's streaming tail events, turned into spans: the onset opens the invocation
// span, spanOpen/spanClose make its child spans, attributes/spanUpdate/log/exception annotate the
// span they were emitted under, and return/outcome close the invocation. A span is handed out
// once, when it closes: the objects de-duplicate by span id, so a span sent while open and again
// when closed would keep its first, incomplete copy. The invocation span therefore goes last.
import { Span_SpanKind as SpanKind, Status_StatusCode as StatusCode } from "../gen/opentelemetry/proto/trace/v1/trace_pb";
import type { ParentContext } from "../stitch/traceparent";
import { attributeBytes, clipText, clipValue, MAX_ATTRIBUTES_PER_SPAN, MAX_BUFFERED_BYTES, MAX_EVENTS_PER_SPAN, MAX_LINKS_PER_SPAN, SPAN_OVERHEAD_BYTES, type TailValue } from "./limits";
import { DEFAULT_ONSET_OPTIONS, invocationSpan, redactQuery, UNKNOWN_SCRIPT, type OnsetOptions } from "./onset";
import { OTEL_CHANNEL, readExtras, type SpanExtras, type SpanKindName } from "../otel/message";

export interface TailSpanEvent {
	name: string;
	timeMs: number;
	attributes: Map<string, TailValue>;
}

export interface TailSpanLink {
	traceId: string;
	spanId: string;
	traceState?: string;
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
	links: TailSpanLink[];
	status: { code: StatusCode; message?: string };
	/** What this span is charged against the invocation's buffer. */
	bytes: number;
	/** From the OpenTelemetry bridge: attribute keys the runtime's own copy must not overwrite, and
	 * what is applied when the span closes (an explicit end time, the final OTel status). */
	otel?: { pinned: Set<string>; end?: number; status?: { code: StatusCode; message?: string } };
}

const STATUS: Record<string, StatusCode> = { unset: StatusCode.UNSET, ok: StatusCode.OK, error: StatusCode.ERROR };
const KINDS: Record<SpanKindName, SpanKind> = { internal: SpanKind.INTERNAL, server: SpanKind.SERVER, client: SpanKind.CLIENT, producer: SpanKind.PRODUCER, consumer: SpanKind.CONSUMER };

export class Invocation {
	readonly traceId: string;
	readonly script: string;
	readonly scriptVersion: string | undefined;
	readonly root: TailSpan;
	readonly caller: ParentContext | undefined;
	/** Spans, attributes and events turned away by the limits. */
	dropped = 0;
	/** Events the runtime itself reported dropping before they reached the consumer. */
	runtimeDropped = 0;
	#open = new Map<string, TailSpan>();
	#closed: TailSpan[] = [];
	#closedBytes = 0;
	#bufferedBytes = 0;
	#finished = false;
	/** While the onset is read: the invocation span and its attributes are charged but never refused. */
	#starting = true;
	readonly #redactQuery: boolean;

	/** Throws when the onset's ids are malformed: there is no trace to put the invocation in. */
	constructor(onset: TailStream.TailEvent<TailStream.Onset>, options: OnsetOptions = DEFAULT_ONSET_OPTIONS) {
		const event = onset.event;
		if (!isId(onset.spanContext.traceId, 32) || !isId(event.spanId, 16)) {
			throw new Error(`onset with malformed ids: trace ${JSON.stringify(onset.spanContext.traceId)}, span ${JSON.stringify(event.spanId)}`);
		}
		this.traceId = onset.spanContext.traceId.toLowerCase();
		this.script = event.scriptName ?? UNKNOWN_SCRIPT;
		this.scriptVersion = event.scriptVersion?.id;
		this.#redactQuery = options.redactQuery;
		const described = invocationSpan(onset, options);
		this.caller = described.caller;
		this.root = this.#newSpan(event.spanId.toLowerCase(), isId(onset.spanContext.spanId, 16) ? onset.spanContext.spanId.toLowerCase() : undefined, described.name, described.kind, timeOf(onset))!;
		for (const [key, value] of described.attributes) this.#setAttribute(this.root, key, value);
		this.#open.set(this.root.spanId, this.root);
		this.#starting = false;
	}

	/** True once the outcome closed the invocation span. */
	get finished(): boolean {
		return this.#finished;
	}

	/** How many closed spans wait to be sent, and roughly how many bytes they hold. */
	get closedCount(): number {
		return this.#closed.length;
	}
	get closedBytes(): number {
		return this.#closedBytes;
	}

	apply(tail: TailStream.TailEvent<TailStream.EventType>): void {
		if (this.#finished) return;
		const event = tail.event;
		const at = timeOf(tail);
		const emittedUnder = tail.spanContext?.spanId?.toLowerCase();
		// The span the event belongs to. One the invocation no longer holds (closed, or dropped at
		// the limit) must not have its attributes or name land on another span.
		const target = emittedUnder === undefined ? this.root : this.#open.get(emittedUnder);
		switch (event.type) {
			case "spanOpen": {
				const spanId = String(event.spanId).toLowerCase();
				if (!isId(spanId, 16) || this.#open.has(spanId)) {
					this.dropped++;
					return;
				}
				// A span opened under one that was dropped hangs from the invocation span instead.
				const span = this.#newSpan(spanId, (target ?? this.root).spanId, String(event.name), SpanKind.CLIENT, at);
				if (!span) return;
				if (event.info?.type === "fetch") {
					this.#setAttribute(span, "http.request.method", event.info.method);
					this.#setAttribute(span, "url.full", this.#redactQuery ? redactQuery(event.info.url) : event.info.url);
				} else if (event.info?.type === "attributes") {
					for (const attribute of event.info.info) this.#setAttribute(span, attribute.name, attribute.value);
				}
				this.#open.set(spanId, span);
				return;
			}
			case "spanClose": {
				if (!target || target === this.root) return;
				this.#open.delete(target.spanId);
				target.endMs = target.otel?.end ?? at;
				if (event.outcome !== "ok") target.status = { code: StatusCode.ERROR, message: event.outcome };
				else if (target.otel?.status) target.status = target.otel.status;
				// The bridge's events arrive when the span ends, after the runtime's exception events.
				if (target.otel) target.events.sort((a, b) => a.timeMs - b.timeMs);
				this.#close(target);
				return;
			}
			case "attributes":
				if (!target) this.dropped++;
				else for (const attribute of event.info) if (!target.otel?.pinned.has(attribute.name)) this.#setAttribute(target, attribute.name, attribute.value);
				return;
			case "spanUpdate":
				if (!target) this.dropped++;
				else if (event.info.type === "name") target.name = clipText(String(event.info.name));
				else {
					const { code, message } = event.info.status;
					target.status = { code: STATUS[code] ?? StatusCode.UNSET, ...(code === "error" && message ? { message: clipText(message) } : {}) };
				}
				return;
			case "exception": {
				// Logs and exceptions under a span the invocation no longer holds are kept on the
				// invocation span rather than lost.
				const span = target ?? this.root;
				const attributes: [string, TailValue][] = [["exception.type", String(event.name)], ["exception.message", String(event.message)]];
				if (event.stack) attributes.push(["exception.stacktrace", event.stack]);
				this.#addEvent(span, "exception", at, attributes);
				span.status = { code: StatusCode.ERROR, message: clipText(`${event.name}: ${event.message}`) };
				return;
			}
			case "log": {
				const attributes: [string, TailValue][] = [["log.level", event.level], ["log.message", logText(event.message)]];
				// The runtime cut the message short itself (it then arrives as a string).
				if (event.truncated) attributes.push(["log.truncated", true]);
				this.#addEvent(target ?? this.root, "log", at, attributes);
				return;
			}
			case "return":
				// A WebSocket upgrade returns without info: there is no status code to record.
				if (event.info?.type === "fetch") {
					this.root.attributes.set("http.response.status_code", event.info.statusCode);
					if (event.info.statusCode >= 500 && this.root.status.code !== StatusCode.ERROR) this.root.status = { code: StatusCode.ERROR, message: `HTTP ${event.info.statusCode}` };
				}
				return;
			case "outcome":
				// These few attributes, like the drop counts, are set whatever the limits: they say how
				// the invocation ended.
				this.root.endMs = at;
				this.root.attributes.set("cloudflare.outcome", event.outcome);
				this.root.attributes.set("cloudflare.cpu_time_ms", event.cpuTime);
				this.root.attributes.set("cloudflare.wall_time_ms", event.wallTime);
				// An exception event or a 5xx already said what went wrong; the outcome only confirms it.
				if (event.outcome !== "ok" && event.outcome !== "canceled" && this.root.status.code !== StatusCode.ERROR) this.root.status = { code: StatusCode.ERROR, message: event.outcome };
				this.#finish(at);
				return;
			case "streamDiagnostic":
				if (event.diagnostic?.diagnosticsType === "droppedEvents") this.runtimeDropped += Number(event.diagnostic.count) || 0;
				return;
			case "diagnosticChannel":
				// The OpenTelemetry bridge's extras name their span themselves: the event's own span is
				// merely whatever was active when they were published.
				if (event.channel === OTEL_CHANNEL) this.#applyExtras(readExtras(event.message));
				return;
			default:
				// Event types newer than this code: nothing to show.
				return;
		}
	}

	/** The closed spans not yet handed out; what they held is freed. */
	takeClosed(): TailSpan[] {
		const closed = this.#closed;
		this.#closed = [];
		this.#closedBytes = 0;
		for (const span of closed) this.#bufferedBytes -= span.bytes;
		return closed;
	}

	/** A new span charged against the buffer; undefined (and counted) when the buffer is full. */
	#newSpan(spanId: string, parentSpanId: string | undefined, name: string, kind: SpanKind, startMs: number): TailSpan | undefined {
		const span: TailSpan = { spanId, ...(parentSpanId ? { parentSpanId } : {}), name: clipText(name), kind, startMs, attributes: new Map(), events: [], links: [], status: { code: StatusCode.UNSET }, bytes: 0 };
		if (this.#charge(span, SPAN_OVERHEAD_BYTES + span.name.length)) return span;
		this.dropped++;
		return undefined;
	}

	/** What the runtime's span API could not carry, from src/otel/ (format: src/otel/message.ts). */
	#applyExtras(extras: SpanExtras | undefined): void {
		const span = extras ? this.#open.get(extras.span) : undefined;
		if (!extras || !span) {
			// Not a bridge message, or its span was closed (or dropped) before it arrived.
			this.dropped++;
			return;
		}
		const otel = (span.otel ??= { pinned: new Set() });
		if (extras.kind && span !== this.root) span.kind = KINDS[extras.kind];
		if (extras.parent && span !== this.root && extras.parent !== span.spanId) span.parentSpanId = extras.parent;
		if (extras.start !== undefined && span !== this.root) span.startMs = extras.start;
		if (extras.end !== undefined) otel.end = extras.end;
		if (extras.status) otel.status = { code: STATUS[extras.status.code]!, ...(extras.status.code === "error" && extras.status.message ? { message: clipText(extras.status.message) } : {}) };
		for (const [key, value] of Object.entries(extras.attributes ?? {})) {
			otel.pinned.add(key);
			this.#setAttribute(span, key, value as TailValue);
		}
		for (const event of extras.events ?? []) this.#addEvent(span, clipText(event.name), event.time, Object.entries(event.attributes ?? {}) as [string, TailValue][]);
		for (const link of extras.links ?? []) this.#addLink(span, link.traceId, link.spanId, link.traceState, Object.entries(link.attributes ?? {}) as [string, TailValue][]);
		if (extras.dropped) this.dropped += extras.dropped;
	}

	#addLink(span: TailSpan, traceId: string, spanId: string, traceState: string | undefined, raw: [string, TailValue][]): void {
		const attributes = new Map(raw.map(([key, value]) => [key, clipValue(value)]));
		const bytes = 64 + (traceState?.length ?? 0) + [...attributes].reduce((sum, [key, value]) => sum + attributeBytes(key, value), 0);
		if (span.links.length >= MAX_LINKS_PER_SPAN || !this.#charge(span, bytes)) {
			this.dropped++;
			return;
		}
		span.links.push({ traceId, spanId, ...(traceState ? { traceState: clipText(traceState) } : {}), attributes });
	}

	#setAttribute(span: TailSpan, key: string, raw: TailValue): void {
		const value = clipValue(raw);
		const previous = span.attributes.get(key);
		if (previous === undefined && span.attributes.size >= MAX_ATTRIBUTES_PER_SPAN) {
			this.dropped++;
			return;
		}
		const bytes = attributeBytes(key, value) - (previous === undefined ? 0 : attributeBytes(key, previous));
		if (!this.#charge(span, bytes)) {
			this.dropped++;
			return;
		}
		span.attributes.set(key, value);
	}

	#addEvent(span: TailSpan, name: string, timeMs: number, raw: [string, TailValue][]): void {
		const attributes = new Map(raw.map(([key, value]) => [key, clipValue(value)]));
		const bytes = 32 + name.length + [...attributes].reduce((sum, [key, value]) => sum + attributeBytes(key, value), 0);
		if (span.events.length >= MAX_EVENTS_PER_SPAN || !this.#charge(span, bytes)) {
			this.dropped++;
			return;
		}
		span.events.push({ name, timeMs, attributes });
	}

	#charge(span: TailSpan, bytes: number): boolean {
		if (!this.#starting && bytes > 0 && this.#bufferedBytes + bytes > MAX_BUFFERED_BYTES) return false;
		this.#bufferedBytes += bytes;
		span.bytes += bytes;
		return true;
	}

	#close(span: TailSpan): void {
		this.#closed.push(span);
		this.#closedBytes += span.bytes;
	}

	#finish(at: number): void {
		this.#finished = true;
		// Spans the runtime never closed (the invocation was cut off) end with it.
		for (const span of this.#open.values()) {
			if (span === this.root) continue;
			span.endMs = at;
			span.attributes.set("cloudflare.span_unclosed", true);
			this.#close(span);
		}
		this.#open.clear();
		if (this.dropped > 0) this.root.attributes.set("assembler.tail.dropped_events", this.dropped);
		if (this.runtimeDropped > 0) this.root.attributes.set("assembler.tail.runtime_dropped_events", this.runtimeDropped);
		this.#close(this.root);
	}
}

function isId(value: unknown, length: number): value is string {
	return typeof value === "string" && value.length === length && /^[0-9a-fA-F]+$/.test(value) && !/^0+$/.test(value);
}

function timeOf(event: { timestamp: Date | string | number }): number {
	const ms = event.timestamp instanceof Date ? event.timestamp.getTime() : new Date(event.timestamp).getTime();
	return Number.isFinite(ms) ? ms : Date.now();
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
