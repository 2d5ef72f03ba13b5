// OTLP/JSON to protobuf bytes, written directly with BinaryWriter. A generic proto3 JSON parser
// cannot be used as is: OTLP/JSON writes ids as hex, not base64 (OTLP spec, "JSON Protobuf
// Encoding"), and real exporters send untidy documents that should still be kept. Writing bytes
// straight from the parsed JSON is also several times faster than building message objects.
import { BinaryWriter, WireType, base64Decode } from "@bufbuild/protobuf/wire";
import { fromHex, isZero, toHex } from "./wire";

/** Thrown inside this module for a value that cannot be kept; caught per span or per group. */
class Rejected extends Error {}

type Json = Record<string, unknown>;

/** Receives each valid span with its group heads (same array for every span of a group). */
export type SpanSink = (resourceHead: Uint8Array, scopeHead: Uint8Array, span: Uint8Array, traceIdHex: string) => void;
/** Receives a reason for each span that was rejected. */
export type RejectSink = (reason: string, count: number) => void;

/**
 * Walks an OTLP/JSON `ExportTraceServiceRequest` (already `JSON.parse`d). Returns an error message
 * when the document's envelope is not an export request at all (the caller answers 400); spans
 * that are individually invalid go to `reject` while the rest go to `accept`.
 */
export function encodeJsonRequest(doc: unknown, accept: SpanSink, reject: RejectSink): string | undefined {
	if (!isObject(doc)) return "request body is not a JSON object";
	const resourceSpans = field(doc, "resourceSpans", "resource_spans");
	if (resourceSpans === undefined || resourceSpans === null) return undefined;
	if (!Array.isArray(resourceSpans)) return "resourceSpans is not an array";
	for (const rs of resourceSpans) {
		if (!isObject(rs)) {
			reject("resourceSpans entry is not an object", 0);
			continue;
		}
		const scopeSpans = field(rs, "scopeSpans", "scope_spans") ?? field(rs, "instrumentationLibrarySpans");
		const scopeList = Array.isArray(scopeSpans) ? scopeSpans : [];
		let resourceHead: Uint8Array;
		try {
			resourceHead = encodeResourceHead(rs);
		} catch (e) {
			reject(reasonOf(e, "invalid resource"), countSpans(scopeList));
			continue;
		}
		for (const ss of scopeList) {
			if (!isObject(ss)) continue;
			const spans = field(ss, "spans");
			const spanList = Array.isArray(spans) ? spans : [];
			let scopeHead: Uint8Array;
			try {
				scopeHead = encodeScopeHead(ss);
			} catch (e) {
				reject(reasonOf(e, "invalid scope"), spanList.length);
				continue;
			}
			for (const span of spanList) {
				try {
					const [bytes, traceIdHex] = encodeSpan(span);
					accept(resourceHead, scopeHead, bytes, traceIdHex);
				} catch (e) {
					reject(reasonOf(e, "invalid span"), 1);
				}
			}
		}
	}
	return undefined;
}

function countSpans(scopeList: unknown[]): number {
	let n = 0;
	for (const ss of scopeList) {
		const spans = isObject(ss) ? field(ss, "spans") : undefined;
		if (Array.isArray(spans)) n += spans.length;
	}
	return n;
}

function reasonOf(e: unknown, fallback: string): string {
	if (e instanceof Rejected) return e.message;
	// A RangeError from a too-deep document, or anything else unexpected, still only costs one span.
	return fallback;
}

function encodeResourceHead(rs: Json): Uint8Array {
	const w = new BinaryWriter();
	const resource = field(rs, "resource");
	if (isObject(resource)) {
		w.tag(1, WireType.LengthDelimited).fork();
		writeAttributes(w, 1, field(resource, "attributes"));
		writeUint32(w, 2, field(resource, "droppedAttributesCount", "dropped_attributes_count"), "resource droppedAttributesCount");
		writeEntityRefs(w, field(resource, "entityRefs", "entity_refs"));
		w.join();
	}
	writeString(w, 3, field(rs, "schemaUrl", "schema_url"), "resource schemaUrl");
	return w.finish();
}

function encodeScopeHead(ss: Json): Uint8Array {
	const w = new BinaryWriter();
	const scope = field(ss, "scope") ?? field(ss, "instrumentationLibrary");
	if (isObject(scope)) {
		w.tag(1, WireType.LengthDelimited).fork();
		writeString(w, 1, field(scope, "name"), "scope name");
		writeString(w, 2, field(scope, "version"), "scope version");
		writeAttributes(w, 3, field(scope, "attributes"));
		writeUint32(w, 4, field(scope, "droppedAttributesCount", "dropped_attributes_count"), "scope droppedAttributesCount");
		w.join();
	}
	writeString(w, 3, field(ss, "schemaUrl", "schema_url"), "scope schemaUrl");
	return w.finish();
}

/** Encodes one span; returns its bytes and its lowercase hex trace id. */
function encodeSpan(span: unknown): [Uint8Array, string] {
	if (!isObject(span)) throw new Rejected("span is not an object");
	const traceId = readId(field(span, "traceId", "trace_id"), 16);
	if (!traceId) throw new Rejected("invalid trace id (must be 32 hex digits, not all zero)");
	const spanId = readId(field(span, "spanId", "span_id"), 8);
	if (!spanId) throw new Rejected("invalid span id (must be 16 hex digits, not all zero)");
	const parentRaw = field(span, "parentSpanId", "parent_span_id");
	let parentSpanId: Uint8Array | undefined;
	if (parentRaw !== undefined && parentRaw !== null && parentRaw !== "") {
		// An all-zero parent is how some exporters write "no parent"; keep it as sent.
		parentSpanId = readId(parentRaw, 8, true);
		if (!parentSpanId) throw new Rejected("invalid parent span id (must be empty or 16 hex digits)");
	}
	const w = new BinaryWriter();
	w.tag(1, WireType.LengthDelimited).bytes(traceId);
	w.tag(2, WireType.LengthDelimited).bytes(spanId);
	writeString(w, 3, field(span, "traceState", "trace_state"), "traceState");
	if (parentSpanId) w.tag(4, WireType.LengthDelimited).bytes(parentSpanId);
	writeString(w, 5, field(span, "name"), "name");
	writeEnum(w, 6, field(span, "kind"), SPAN_KINDS, "kind");
	writeFixed64(w, 7, field(span, "startTimeUnixNano", "start_time_unix_nano"), "startTimeUnixNano");
	writeFixed64(w, 8, field(span, "endTimeUnixNano", "end_time_unix_nano"), "endTimeUnixNano");
	writeAttributes(w, 9, field(span, "attributes"));
	writeUint32(w, 10, field(span, "droppedAttributesCount", "dropped_attributes_count"), "droppedAttributesCount");
	const events = field(span, "events");
	if (events !== undefined && events !== null) {
		if (!Array.isArray(events)) throw new Rejected("events is not an array");
		for (const event of events) writeEvent(w, event);
	}
	writeUint32(w, 12, field(span, "droppedEventsCount", "dropped_events_count"), "droppedEventsCount");
	const links = field(span, "links");
	if (links !== undefined && links !== null) {
		if (!Array.isArray(links)) throw new Rejected("links is not an array");
		for (const link of links) writeLink(w, link);
	}
	writeUint32(w, 14, field(span, "droppedLinksCount", "dropped_links_count"), "droppedLinksCount");
	const status = field(span, "status");
	if (isObject(status)) {
		w.tag(15, WireType.LengthDelimited).fork();
		writeString(w, 2, field(status, "message"), "status message");
		writeEnum(w, 3, field(status, "code"), STATUS_CODES, "status code");
		w.join();
	}
	writeFixed32(w, 16, field(span, "flags"), "flags");
	return [w.finish(), hexOf(field(span, "traceId", "trace_id") as string, traceId)];
}

function writeEvent(w: BinaryWriter, event: unknown): void {
	if (!isObject(event)) throw new Rejected("event is not an object");
	w.tag(11, WireType.LengthDelimited).fork();
	writeFixed64(w, 1, field(event, "timeUnixNano", "time_unix_nano"), "event timeUnixNano");
	writeString(w, 2, field(event, "name"), "event name");
	writeAttributes(w, 3, field(event, "attributes"));
	writeUint32(w, 4, field(event, "droppedAttributesCount", "dropped_attributes_count"), "event droppedAttributesCount");
	w.join();
}

function writeLink(w: BinaryWriter, link: unknown): void {
	if (!isObject(link)) throw new Rejected("link is not an object");
	const traceId = readId(field(link, "traceId", "trace_id"), 16, true);
	const spanId = readId(field(link, "spanId", "span_id"), 8, true);
	if (!traceId || !spanId) throw new Rejected("invalid link (trace id must be 32 and span id 16 hex digits)");
	w.tag(13, WireType.LengthDelimited).fork();
	w.tag(1, WireType.LengthDelimited).bytes(traceId);
	w.tag(2, WireType.LengthDelimited).bytes(spanId);
	writeString(w, 3, field(link, "traceState", "trace_state"), "link traceState");
	writeAttributes(w, 4, field(link, "attributes"));
	writeUint32(w, 5, field(link, "droppedAttributesCount", "dropped_attributes_count"), "link droppedAttributesCount");
	writeFixed32(w, 6, field(link, "flags"), "link flags");
	w.join();
}

function writeEntityRefs(w: BinaryWriter, refs: unknown): void {
	if (refs === undefined || refs === null) return;
	if (!Array.isArray(refs)) throw new Rejected("resource entityRefs is not an array");
	for (const ref of refs) {
		if (!isObject(ref)) throw new Rejected("resource entityRef is not an object");
		w.tag(3, WireType.LengthDelimited).fork();
		writeString(w, 1, field(ref, "schemaUrl", "schema_url"), "entityRef schemaUrl");
		writeString(w, 2, field(ref, "type"), "entityRef type");
		for (const [no, name, alt] of [[3, "idKeys", "id_keys"], [4, "descriptionKeys", "description_keys"]] as const) {
			const keys = field(ref, name, alt);
			if (keys === undefined || keys === null) continue;
			if (!Array.isArray(keys)) throw new Rejected(`entityRef ${name} is not an array`);
			for (const key of keys) {
				if (typeof key !== "string") throw new Rejected(`entityRef ${name} holds a non-string`);
				w.tag(no, WireType.LengthDelimited).string(key);
			}
		}
		w.join();
	}
}

function writeAttributes(w: BinaryWriter, fieldNo: number, attributes: unknown): void {
	if (attributes === undefined || attributes === null) return;
	if (!Array.isArray(attributes)) throw new Rejected("attributes is not an array");
	for (const kv of attributes) writeKeyValue(w, fieldNo, kv, 0);
}

function writeKeyValue(w: BinaryWriter, fieldNo: number, kv: unknown, depth: number): void {
	if (!isObject(kv)) throw new Rejected("attribute is not an object");
	w.tag(fieldNo, WireType.LengthDelimited).fork();
	writeString(w, 1, field(kv, "key"), "attribute key");
	const value = field(kv, "value");
	if (value !== undefined && value !== null) {
		w.tag(2, WireType.LengthDelimited).fork();
		writeAnyValue(w, value, depth + 1);
		w.join();
	}
	w.join();
}

const MAX_VALUE_DEPTH = 32;

/** Writes the fields of an AnyValue (the caller frames it). `{}` stays an empty value, as sent. */
function writeAnyValue(w: BinaryWriter, value: unknown, depth: number): void {
	if (depth > MAX_VALUE_DEPTH) throw new Rejected(`attribute value nested deeper than ${MAX_VALUE_DEPTH} levels`);
	if (!isObject(value)) throw new Rejected("attribute value is not an object");
	let v: unknown;
	if ((v = field(value, "stringValue", "string_value")) !== undefined && v !== null) {
		if (typeof v !== "string") throw new Rejected("stringValue is not a string");
		w.tag(1, WireType.LengthDelimited).string(v);
	} else if ((v = field(value, "boolValue", "bool_value")) !== undefined && v !== null) {
		if (typeof v !== "boolean") throw new Rejected("boolValue is not a boolean");
		w.tag(2, WireType.Varint).bool(v);
	} else if ((v = field(value, "intValue", "int_value")) !== undefined && v !== null) {
		w.tag(3, WireType.Varint).int64(readInteger(v, "intValue", true));
	} else if ((v = field(value, "doubleValue", "double_value")) !== undefined && v !== null) {
		w.tag(4, WireType.Bit64).double(readDouble(v));
	} else if ((v = field(value, "arrayValue", "array_value")) !== undefined && v !== null) {
		w.tag(5, WireType.LengthDelimited).fork();
		const values = isObject(v) ? field(v, "values") : undefined;
		if (values !== undefined && values !== null) {
			if (!Array.isArray(values)) throw new Rejected("arrayValue.values is not an array");
			for (const item of values) {
				w.tag(1, WireType.LengthDelimited).fork();
				writeAnyValue(w, item ?? {}, depth + 1);
				w.join();
			}
		}
		w.join();
	} else if ((v = field(value, "kvlistValue", "kvlist_value")) !== undefined && v !== null) {
		w.tag(6, WireType.LengthDelimited).fork();
		const values = isObject(v) ? field(v, "values") : undefined;
		if (values !== undefined && values !== null) {
			if (!Array.isArray(values)) throw new Rejected("kvlistValue.values is not an array");
			for (const kv of values) writeKeyValue(w, 1, kv, depth + 1);
		}
		w.join();
	} else if ((v = field(value, "bytesValue", "bytes_value")) !== undefined && v !== null) {
		if (typeof v !== "string") throw new Rejected("bytesValue is not a base64 string");
		w.tag(7, WireType.LengthDelimited).bytes(readBase64(v));
	}
}

function writeString(w: BinaryWriter, fieldNo: number, value: unknown, what: string): void {
	if (value === undefined || value === null || value === "") return;
	if (typeof value !== "string") throw new Rejected(`${what} is not a string`);
	w.tag(fieldNo, WireType.LengthDelimited).string(value);
}

function writeUint32(w: BinaryWriter, fieldNo: number, value: unknown, what: string): void {
	if (value === undefined || value === null) return;
	const n = readUint(value, what, 0xffffffff);
	if (n !== 0) w.tag(fieldNo, WireType.Varint).uint32(n);
}

function writeFixed32(w: BinaryWriter, fieldNo: number, value: unknown, what: string): void {
	if (value === undefined || value === null) return;
	const n = readUint(value, what, 0xffffffff);
	if (n !== 0) w.tag(fieldNo, WireType.Bit32).fixed32(n);
}

function writeFixed64(w: BinaryWriter, fieldNo: number, value: unknown, what: string): void {
	if (value === undefined || value === null) return;
	const n = readInteger(value, what, false);
	if (n !== 0n) w.tag(fieldNo, WireType.Bit64).fixed64(n);
}

function writeEnum(w: BinaryWriter, fieldNo: number, value: unknown, names: Record<string, number>, what: string): void {
	if (value === undefined || value === null) return;
	// OTLP/JSON says integers only; names are what a generic proto3 JSON writer emits, so take both.
	const n = typeof value === "string" && value in names ? names[value]! : readUint(value, what, 0x7fffffff);
	if (n !== 0) w.tag(fieldNo, WireType.Varint).int32(n);
}

const SPAN_KINDS: Record<string, number> = {
	SPAN_KIND_UNSPECIFIED: 0,
	SPAN_KIND_INTERNAL: 1,
	SPAN_KIND_SERVER: 2,
	SPAN_KIND_CLIENT: 3,
	SPAN_KIND_PRODUCER: 4,
	SPAN_KIND_CONSUMER: 5,
};
const STATUS_CODES: Record<string, number> = { STATUS_CODE_UNSET: 0, STATUS_CODE_OK: 1, STATUS_CODE_ERROR: 2 };

const UINT64_MAX = (1n << 64n) - 1n;
const INT64_MIN = -(1n << 63n);
const INT64_MAX = (1n << 63n) - 1n;
const DECIMAL = /^-?\d{1,20}$/;

/** A 64-bit integer written as a decimal string or a JSON number (both are allowed by OTLP/JSON). */
function readInteger(value: unknown, what: string, signed: boolean): bigint {
	let n: bigint;
	if (typeof value === "number" && Number.isInteger(value)) n = BigInt(value);
	else if (typeof value === "string" && DECIMAL.test(value)) n = BigInt(value);
	else throw new Rejected(`${what} is not an integer`);
	if (signed ? n < INT64_MIN || n > INT64_MAX : n < 0n || n > UINT64_MAX) throw new Rejected(`${what} is out of range`);
	return n;
}

function readUint(value: unknown, what: string, max: number): number {
	const n = typeof value === "string" && /^\d{1,10}$/.test(value) ? Number(value) : value;
	if (typeof n !== "number" || !Number.isInteger(n) || n < 0 || n > max) throw new Rejected(`${what} is not an integer from 0 to ${max}`);
	return n;
}

function readDouble(value: unknown): number {
	if (typeof value === "number") return value;
	if (value === "NaN") return Number.NaN;
	if (value === "Infinity") return Number.POSITIVE_INFINITY;
	if (value === "-Infinity") return Number.NEGATIVE_INFINITY;
	if (typeof value === "string" && value.trim() !== "" && !Number.isNaN(Number(value))) return Number(value);
	throw new Rejected("doubleValue is not a number");
}

const BASE64 = /^[A-Za-z0-9+/\-_]*={0,2}$/;

function readBase64(value: string): Uint8Array {
	if (!BASE64.test(value)) throw new Rejected("bytesValue is not valid base64");
	return base64Decode(value);
}

/**
 * An id of `size` bytes: hex in either case (OTLP/JSON), or base64 as a generic proto3 JSON writer
 * would send it. All-zero ids are invalid for span and trace ids (W3C Trace Context) but kept when
 * `allowZero` (parents and links, as sent).
 */
function readId(value: unknown, size: number, allowZero = false): Uint8Array | undefined {
	if (typeof value !== "string") return undefined;
	let bytes = value.length === size * 2 ? fromHex(value) : undefined;
	if (!bytes && value.length === Math.ceil(size / 3) * 4 && BASE64.test(value)) bytes = base64Decode(value);
	if (!bytes || bytes.length !== size) return undefined;
	if (!allowZero && isZero(bytes)) return undefined;
	return bytes;
}

const LOWER_HEX = /^[0-9a-f]{32}$/;

function hexOf(written: string, bytes: Uint8Array): string {
	return LOWER_HEX.test(written) ? written : toHex(bytes);
}

function isObject(value: unknown): value is Json {
	return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** A field by its lowerCamelCase name, or by the proto name that proto3 JSON parsers also accept. */
function field(o: Json, name: string, protoName?: string): unknown {
	const v = o[name];
	return v === undefined && protoName !== undefined ? o[protoName] : v;
}
