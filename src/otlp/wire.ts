// Wire-level access to OTLP trace messages. The router only needs trace ids to split a request and
// the objects keep spans as encoded bytes, so nothing here builds message objects: it walks the
// protobuf encoding, checks its structure, and re-frames slices of it.
import { BinaryReader, WireType } from "@bufbuild/protobuf/wire";

/** A structural problem in an encoded message; the HTTP edge maps it to 400. */
export class WireError extends Error {
	override name = "WireError";
}

/**
 * Calls `visit` for every span of an encoded `TracesData` / `ExportTraceServiceRequest` (both put
 * `resource_spans` in field 1). `resourceHead` is the ResourceSpans without its scope_spans and
 * `scopeHead` the ScopeSpans without its spans, each as the same array for every span of the
 * group, so callers can group by identity. Throws WireError on a malformed envelope; spans
 * themselves are not checked here (see inspectSpan).
 */
export function forEachSpan(
	encoded: Uint8Array,
	visit: (resourceHead: Uint8Array, scopeHead: Uint8Array, span: Uint8Array) => void,
): void {
	guard(() => {
		for (const resourceSpans of repeatedField(encoded, 1)) {
			const [resourceHead, scopeList] = splitOff(resourceSpans, 2);
			for (const scopeSpans of scopeList) {
				const [scopeHead, spans] = splitOff(scopeSpans, 2);
				for (const span of spans) visit(resourceHead, scopeHead, span);
			}
		}
	});
}

/** Ids read from a span that passed the structural check. */
export interface SpanIds {
	traceId: Uint8Array;
	spanId: Uint8Array;
	/** Empty for a root span. */
	parentSpanId: Uint8Array;
}

/** A Span's top-level fields, as `readSpanFields` finds them (OTLP trace.proto, message Span). */
export interface SpanFields extends SpanIds {
	/** The name's UTF-8 bytes: decoded only by readers that need it (span-facts.ts), not on the hot path. */
	nameBytes: Uint8Array;
	startTimeUnixNano: bigint;
	endTimeUnixNano: bigint;
	/** 0 unset, 1 ok, 2 error. */
	statusCode: number;
}

/** What a caller wants besides the fixed fields: each KeyValue attribute and each Link, as bytes. */
export interface SpanFieldVisitor {
	attribute?(keyValue: Uint8Array): void;
	link?(link: Uint8Array): void;
}

/**
 * The one reader of a Span's fields by number (trace_id 1, span_id 2, parent_span_id 4, name 5,
 * start 7, end 8, attributes 9, links 13, status 15): every module that needs a fact of an encoded
 * span reads it here, so the field numbers live in one place. Attributes and links are handed to
 * `visit` as they are met, without collecting them, since the objects read every span they store.
 */
export function readSpanFields(span: Uint8Array, visit?: SpanFieldVisitor): SpanFields {
	const fields: SpanFields = { traceId: EMPTY, spanId: EMPTY, parentSpanId: EMPTY, nameBytes: EMPTY, startTimeUnixNano: 0n, endTimeUnixNano: 0n, statusCode: 0 };
	const reader = new BinaryReader(span);
	while (reader.pos < reader.len) {
		const [field, wireType] = reader.tag();
		if (wireType === WireType.LengthDelimited) {
			if (field === 1) fields.traceId = reader.bytes();
			else if (field === 2) fields.spanId = reader.bytes();
			else if (field === 4) fields.parentSpanId = reader.bytes();
			else if (field === 5) fields.nameBytes = reader.bytes();
			else if (field === 9 && visit?.attribute) visit.attribute(reader.bytes());
			else if (field === 13 && visit?.link) visit.link(reader.bytes());
			else if (field === 15) fields.statusCode = statusCode(reader.bytes());
			else reader.skip(wireType, field);
		} else if (wireType === WireType.Bit64 && (field === 7 || field === 8)) {
			const nanos = BigInt(reader.fixed64());
			if (field === 7) fields.startTimeUnixNano = nanos;
			else fields.endTimeUnixNano = nanos;
		} else reader.skip(wireType, field);
	}
	return fields;
}

/** Status.code (field 3) of an encoded Status. */
function statusCode(status: Uint8Array): number {
	let code = 0;
	const reader = new BinaryReader(status);
	while (reader.pos < reader.len) {
		const [field, wireType] = reader.tag();
		if (field === 3 && wireType === WireType.Varint) code = reader.int32();
		else reader.skip(wireType, field);
	}
	return code;
}

/**
 * Checks one encoded Span against the OTLP schema (wire types of every known field, nested
 * messages, id lengths) and returns its ids, or a reason to reject it.
 */
export function inspectSpan(span: Uint8Array): SpanIds | string {
	try {
		checkMessage(span, SPAN, 0);
	} catch (e) {
		return e instanceof WireError ? e.message : "span is not a valid protobuf message";
	}
	const { traceId, spanId, parentSpanId } = readSpanFields(span);
	if (traceId.length !== 16 || isZero(traceId)) return "invalid trace id (must be 16 bytes, not all zero)";
	if (spanId.length !== 8 || isZero(spanId)) return "invalid span id (must be 8 bytes, not all zero)";
	if (parentSpanId.length !== 0 && parentSpanId.length !== 8) return "invalid parent span id (must be empty or 8 bytes)";
	return { traceId, spanId, parentSpanId };
}

/**
 * Checks a ResourceSpans or ScopeSpans head (as forEachSpan gives them) against the OTLP schema;
 * returns a reason to reject its spans, or undefined when it is sound.
 */
export function inspectHead(head: Uint8Array, kind: "resource" | "scope"): string | undefined {
	try {
		checkMessage(head, kind === "resource" ? RESOURCE_SPANS_HEAD : SCOPE_SPANS_HEAD, 0);
		return undefined;
	} catch (e) {
		return `invalid ${kind}: ${e instanceof WireError ? e.message : "not a valid protobuf message"}`;
	}
}

/**
 * Encodes groups of spans as one `TracesData` (equally an `ExportTraceServiceRequest`). Spans are
 * grouped by the identity of their resource and scope heads, in first-seen order.
 */
export class TracesDataWriter {
	readonly #resources = new Map<Uint8Array, Map<Uint8Array, Uint8Array[]>>();
	#spanCount = 0;

	add(resourceHead: Uint8Array, scopeHead: Uint8Array, span: Uint8Array): void {
		let scopes = this.#resources.get(resourceHead);
		if (!scopes) this.#resources.set(resourceHead, (scopes = new Map()));
		let spans = scopes.get(scopeHead);
		if (!spans) scopes.set(scopeHead, (spans = []));
		spans.push(span);
		this.#spanCount++;
	}

	get spanCount(): number {
		return this.#spanCount;
	}

	finish(): Uint8Array {
		// Sizes first, so the message is written into one buffer of exactly the right length.
		const plan: { head: Uint8Array; size: number; scopes: { head: Uint8Array; size: number; spans: Uint8Array[] }[] }[] = [];
		let total = 0;
		for (const [resourceHead, scopes] of this.#resources) {
			let resourceSize = resourceHead.length;
			const scopePlan = [];
			for (const [scopeHead, spans] of scopes) {
				let scopeSize = scopeHead.length;
				for (const span of spans) scopeSize += framedSize(span.length);
				scopePlan.push({ head: scopeHead, size: scopeSize, spans });
				resourceSize += framedSize(scopeSize);
			}
			plan.push({ head: resourceHead, size: resourceSize, scopes: scopePlan });
			total += framedSize(resourceSize);
		}
		const out = new Uint8Array(total);
		let pos = 0;
		const frame = (tag: number, size: number) => {
			out[pos++] = tag;
			pos = writeVarint(out, pos, size);
		};
		const copy = (bytes: Uint8Array) => {
			out.set(bytes, pos);
			pos += bytes.length;
		};
		for (const resource of plan) {
			frame(TAG_FIELD1_LEN, resource.size);
			copy(resource.head);
			for (const scope of resource.scopes) {
				frame(TAG_FIELD2_LEN, scope.size);
				copy(scope.head);
				for (const span of scope.spans) {
					frame(TAG_FIELD2_LEN, span.length);
					copy(span);
				}
			}
		}
		return out;
	}
}

/** Lowercase hex of a byte string (trace and span ids). */
export function toHex(bytes: Uint8Array): string {
	let hex = "";
	for (let i = 0; i < bytes.length; i++) hex += HEX[bytes[i]!];
	return hex;
}

/** Bytes of a hex string of even length, or undefined when it is not hex. */
export function fromHex(hex: string): Uint8Array | undefined {
	if (hex.length % 2 !== 0) return undefined;
	const out = new Uint8Array(hex.length / 2);
	for (let i = 0; i < out.length; i++) {
		const hi = nibble(hex.charCodeAt(2 * i));
		const lo = nibble(hex.charCodeAt(2 * i + 1));
		if (hi < 0 || lo < 0) return undefined;
		out[i] = (hi << 4) | lo;
	}
	return out;
}

export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
	if (a.length !== b.length) return false;
	for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
	return true;
}

export function isZero(bytes: Uint8Array): boolean {
	for (let i = 0; i < bytes.length; i++) if (bytes[i] !== 0) return false;
	return true;
}

/** Encodes a length-delimited field (`tag`, varint length, bytes). */
export function lengthDelimited(field: number, payload: Uint8Array): Uint8Array {
	const tag = (field << 3) | WireType.LengthDelimited;
	const out = new Uint8Array(varintSize(tag) + varintSize(payload.length) + payload.length);
	let pos = writeVarint(out, 0, tag);
	pos = writeVarint(out, pos, payload.length);
	out.set(payload, pos);
	return out;
}

export function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
	let size = 0;
	for (const part of parts) size += part.length;
	const out = new Uint8Array(size);
	let pos = 0;
	for (const part of parts) {
		out.set(part, pos);
		pos += part.length;
	}
	return out;
}

// ---------------------------------------------------------------------------------------------

const EMPTY = new Uint8Array(0);
const TAG_FIELD1_LEN = (1 << 3) | WireType.LengthDelimited;
const TAG_FIELD2_LEN = (2 << 3) | WireType.LengthDelimited;
const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));

function nibble(code: number): number {
	if (code >= 48 && code <= 57) return code - 48;
	if (code >= 97 && code <= 102) return code - 87;
	if (code >= 65 && code <= 70) return code - 55;
	return -1;
}

function guard(run: () => void): void {
	try {
		run();
	} catch (e) {
		if (e instanceof WireError) throw e;
		// BinaryReader throws plain Errors (premature EOF, invalid varint, ...) on truncated input.
		throw new WireError(`malformed protobuf: ${e instanceof Error ? e.message : String(e)}`);
	}
}

/** The length-delimited values of field `field` at the top level of `message`. */
function repeatedField(message: Uint8Array, field: number): Uint8Array[] {
	const values: Uint8Array[] = [];
	const reader = new BinaryReader(message);
	while (reader.pos < reader.len) {
		const [no, wireType] = reader.tag();
		if (no === field) {
			if (wireType !== WireType.LengthDelimited) throw new WireError(`field ${no} has wire type ${wireType}, expected length-delimited`);
			values.push(reader.bytes());
		} else {
			reader.skip(wireType, no);
		}
	}
	return values;
}

/** Splits `message` into its other fields (raw, tags included) and the values of `field`. */
function splitOff(message: Uint8Array, field: number): [head: Uint8Array, values: Uint8Array[]] {
	const values: Uint8Array[] = [];
	const headParts: Uint8Array[] = [];
	const reader = new BinaryReader(message);
	while (reader.pos < reader.len) {
		const start = reader.pos;
		const [no, wireType] = reader.tag();
		if (no === field) {
			if (wireType !== WireType.LengthDelimited) throw new WireError(`field ${no} has wire type ${wireType}, expected length-delimited`);
			values.push(reader.bytes());
		} else {
			reader.skip(wireType, no);
			headParts.push(message.subarray(start, reader.pos));
		}
	}
	const head = headParts.length === 1 ? headParts[0]! : concatBytes(headParts);
	return [head, values];
}

// The OTLP schema as wire types, enough to reject a span that no decoder could read back: wire
// types, nested messages, and UTF-8 in string fields (a proto3 decoder refuses invalid UTF-8).
type Schema = { readonly [field: number]: readonly [WireType, (Schema | typeof STRING)?] };
const STRING = "string";
const LEN = WireType.LengthDelimited;
const VARINT = WireType.Varint;
const ANY_VALUE: Schema = {};
const KEY_VALUE: Schema = { 1: [LEN, STRING], 2: [LEN, ANY_VALUE], 3: [VARINT] };
const LIST: Schema = { 1: [LEN, ANY_VALUE] };
const KV_LIST: Schema = { 1: [LEN, KEY_VALUE] };
Object.assign(ANY_VALUE, {
	1: [LEN, STRING],
	2: [VARINT],
	3: [VARINT],
	4: [WireType.Bit64],
	5: [LEN, LIST],
	6: [LEN, KV_LIST],
	7: [LEN],
	8: [VARINT],
});
const EVENT: Schema = { 1: [WireType.Bit64], 2: [LEN, STRING], 3: [LEN, KEY_VALUE], 4: [VARINT] };
const LINK: Schema = { 1: [LEN], 2: [LEN], 3: [LEN, STRING], 4: [LEN, KEY_VALUE], 5: [VARINT], 6: [WireType.Bit32] };
const STATUS: Schema = { 2: [LEN, STRING], 3: [VARINT] };
const SPAN: Schema = {
	1: [LEN],
	2: [LEN],
	3: [LEN, STRING],
	4: [LEN],
	5: [LEN, STRING],
	6: [VARINT],
	7: [WireType.Bit64],
	8: [WireType.Bit64],
	9: [LEN, KEY_VALUE],
	10: [VARINT],
	11: [LEN, EVENT],
	12: [VARINT],
	13: [LEN, LINK],
	14: [VARINT],
	15: [LEN, STATUS],
	16: [WireType.Bit32],
};
const ENTITY_REF: Schema = { 1: [LEN, STRING], 2: [LEN, STRING], 3: [LEN, STRING], 4: [LEN, STRING] };
const RESOURCE: Schema = { 1: [LEN, KEY_VALUE], 2: [VARINT], 3: [LEN, ENTITY_REF] };
const SCOPE: Schema = { 1: [LEN, STRING], 2: [LEN, STRING], 3: [LEN, KEY_VALUE], 4: [VARINT] };
const RESOURCE_SPANS_HEAD: Schema = { 1: [LEN, RESOURCE], 3: [LEN, STRING] };
const SCOPE_SPANS_HEAD: Schema = { 1: [LEN, SCOPE], 3: [LEN, STRING] };
/** Deeper attribute values than this are refused (an AnyValue can nest arrays and kvlists). */
const MAX_DEPTH = 32;

function checkMessage(message: Uint8Array, schema: Schema, depth: number): void {
	if (depth > MAX_DEPTH) throw new WireError(`span nests values deeper than ${MAX_DEPTH} levels`);
	const reader = new BinaryReader(message);
	while (reader.pos < reader.len) {
		const [field, wireType] = reader.tag();
		const spec = schema[field];
		if (spec && spec[0] !== wireType) {
			throw new WireError(`span field ${field} has wire type ${wireType}, expected ${spec[0]}`);
		}
		const nested = spec?.[1];
		if (nested === STRING) {
			if (!isUtf8(reader.bytes())) throw new WireError(`field ${field} is not valid UTF-8`);
		} else if (nested) checkMessage(reader.bytes(), nested, depth + 1);
		else reader.skip(wireType, field);
	}
}

/** Whether `bytes` is well-formed UTF-8 (no overlongs, surrogates or code points past U+10FFFF). */
export function isUtf8(bytes: Uint8Array): boolean {
	let i = 0;
	const n = bytes.length;
	while (i < n) {
		const b = bytes[i]!;
		if (b < 0x80) {
			i++;
			continue;
		}
		let need: number;
		let min: number;
		let cp: number;
		if (b >= 0xc2 && b <= 0xdf) [need, min, cp] = [1, 0x80, b & 0x1f];
		else if (b >= 0xe0 && b <= 0xef) [need, min, cp] = [2, 0x800, b & 0x0f];
		else if (b >= 0xf0 && b <= 0xf4) [need, min, cp] = [3, 0x10000, b & 0x07];
		else return false;
		if (i + need >= n) return false;
		for (let k = 1; k <= need; k++) {
			const c = bytes[i + k];
			if (c === undefined || (c & 0xc0) !== 0x80) return false;
			cp = (cp << 6) | (c & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return false;
		i += need + 1;
	}
	return true;
}

function framedSize(length: number): number {
	return 1 + varintSize(length) + length;
}

function varintSize(value: number): number {
	let size = 1;
	while (value >= 0x80) {
		value = Math.floor(value / 128);
		size++;
	}
	return size;
}

function writeVarint(out: Uint8Array, pos: number, value: number): number {
	while (value >= 0x80) {
		out[pos++] = (value & 0x7f) | 0x80;
		value = Math.floor(value / 128);
	}
	out[pos++] = value;
	return pos;
}
