// What the runtime's span API cannot carry travels from the OpenTelemetry bridge (src/otel/) to the
// assembler's tail consumer (src/tail/) as one message on a node:diagnostics_channel channel. The
// runtime streams each publish to tail consumers as a `diagnosticChannel` event; its spanContext is
// whatever span is active at that moment, so every message names its target span itself.
//
// Version 1, one structured-cloneable object:
//   { v: 1, span: "<16 hex>",            the runtime span the extras belong to (spanContext().spanId)
//     kind?: "internal" | "server" | "client" | "producer" | "consumer",
//     parent?: "<16 hex>",               the parent the OTel caller asked for, when the runtime nested
//                                        the span under another one
//     start?: ms, end?: ms,              explicit times (ms since the epoch) the runtime cannot take
//     status?: { code: "unset" | "ok" | "error", message? },   the span's final OTel status
//     attributes?: { key: value },       values the runtime refuses (arrays; these win over the
//                                        runtime's own copy of the same key)
//     events?: [{ name, time: ms, attributes? }],
//     links?: [{ traceId, spanId, traceState?, attributes? }],
//     dropped?: n }                      extras the bridge itself turned away (over its bounds)
// A bridge publishes it once per span, just before ending it; for spans it did not start (the
// invocation's own span) once per call. Unknown fields are ignored, an unknown version is skipped.

/** The node:diagnostics_channel channel the bridge publishes on. */
export const OTEL_CHANNEL = "workers-trace-assembler.otel";
export const OTEL_MESSAGE_VERSION = 1;

export type ExtraValue = string | number | boolean | bigint | (string | number | boolean | bigint)[];
export type SpanKindName = "internal" | "server" | "client" | "producer" | "consumer";
export type StatusName = "unset" | "ok" | "error";

export interface ExtraEvent {
	name: string;
	time: number;
	attributes?: Record<string, ExtraValue>;
}

export interface ExtraLink {
	traceId: string;
	spanId: string;
	traceState?: string;
	attributes?: Record<string, ExtraValue>;
}

export interface SpanExtras {
	v: typeof OTEL_MESSAGE_VERSION;
	span: string;
	kind?: SpanKindName;
	parent?: string;
	start?: number;
	end?: number;
	status?: { code: StatusName; message?: string };
	attributes?: Record<string, ExtraValue>;
	events?: ExtraEvent[];
	links?: ExtraLink[];
	dropped?: number;
}

const KINDS = new Set<string>(["internal", "server", "client", "producer", "consumer"]);
const STATUSES = new Set<string>(["unset", "ok", "error"]);

/**
 * The consumer's reading of a message: only well-formed parts are kept, so a message from another
 * version of the bridge (or anything else published on the channel) cannot corrupt a span.
 * Undefined when it is not a version-1 message with a valid target span.
 */
export function readExtras(message: unknown): SpanExtras | undefined {
	if (!isObject(message) || message.v !== OTEL_MESSAGE_VERSION || !isHex(message.span, 16)) return undefined;
	const extras: SpanExtras = { v: OTEL_MESSAGE_VERSION, span: message.span.toLowerCase() };
	if (typeof message.kind === "string" && KINDS.has(message.kind)) extras.kind = message.kind as SpanKindName;
	if (isHex(message.parent, 16)) extras.parent = message.parent.toLowerCase();
	if (isTime(message.start)) extras.start = message.start;
	if (isTime(message.end)) extras.end = message.end;
	if (isObject(message.status) && typeof message.status.code === "string" && STATUSES.has(message.status.code)) {
		extras.status = { code: message.status.code as StatusName, ...(typeof message.status.message === "string" ? { message: message.status.message } : {}) };
	}
	const attributes = readAttributes(message.attributes);
	if (attributes) extras.attributes = attributes;
	if (Array.isArray(message.events)) {
		extras.events = message.events.filter((e): e is Record<string, unknown> => isObject(e) && typeof e.name === "string" && isTime(e.time)).map((e) => {
			const eventAttributes = readAttributes(e.attributes);
			return { name: e.name as string, time: e.time as number, ...(eventAttributes ? { attributes: eventAttributes } : {}) };
		});
	}
	if (Array.isArray(message.links)) {
		extras.links = message.links.filter((l): l is Record<string, unknown> => isObject(l) && isHex(l.traceId, 32) && isHex(l.spanId, 16)).map((l) => {
			const linkAttributes = readAttributes(l.attributes);
			return {
				traceId: (l.traceId as string).toLowerCase(),
				spanId: (l.spanId as string).toLowerCase(),
				...(typeof l.traceState === "string" && l.traceState ? { traceState: l.traceState } : {}),
				...(linkAttributes ? { attributes: linkAttributes } : {}),
			};
		});
	}
	if (typeof message.dropped === "number" && Number.isSafeInteger(message.dropped) && message.dropped > 0) extras.dropped = message.dropped;
	return extras;
}

function readAttributes(value: unknown): Record<string, ExtraValue> | undefined {
	if (!isObject(value)) return undefined;
	const out: Record<string, ExtraValue> = {};
	let any = false;
	for (const [key, raw] of Object.entries(value)) {
		const kept = Array.isArray(raw) ? raw.filter(isScalar) : isScalar(raw) ? raw : undefined;
		if (kept === undefined) continue;
		out[key] = kept;
		any = true;
	}
	return any ? out : undefined;
}

function isScalar(value: unknown): value is string | number | boolean | bigint {
	return typeof value === "string" || typeof value === "boolean" || typeof value === "bigint" || (typeof value === "number" && !Number.isNaN(value));
}

function isObject(value: unknown): value is Record<string, unknown> {
	return typeof value === "object" && value !== null && !Array.isArray(value);
}

function isHex(value: unknown, length: number): value is string {
	return typeof value === "string" && value.length === length && /^[0-9a-fA-F]+$/.test(value) && !/^0+$/.test(value);
}

function isTime(value: unknown): value is number {
	return typeof value === "number" && Number.isFinite(value) && value > 0;
}
