// Facts read from one encoded Span without decoding the rest of it.
import { BinaryReader, WireType } from "@bufbuild/protobuf/wire";
import { concatBytes, equalBytes, fromHex, readSpanFields, type SpanFields } from "./wire";

/**
 * The attribute that keeps a span's original trace id after it was stitched into another trace.
 * A span's identity (for de-duplication) is this original trace id plus its span id.
 */
export const ORIGINAL_TRACE_ID_ATTRIBUTE = "assembler.original_trace_id";
export const ORIGINAL_TRACE_ID_KEY = new TextEncoder().encode(ORIGINAL_TRACE_ID_ATTRIBUTE);

/** A span's ids, name, times and status (the fields read without attributes). */
export interface SpanFacts extends SpanFields {
	name: string;
}

const utf8 = new TextDecoder();

/** The original trace id found among the attributes of the span being read (one span at a time). */
let originalFound: Uint8Array | undefined;
/** Shared by every call: spanIdentity runs for every span the objects take in. */
const IDENTITY_VISITOR = {
	attribute(keyValue: Uint8Array): void {
		originalFound = originalTraceId(keyValue) ?? originalFound;
	},
};

/** 24 bytes: the span's original trace id and its span id. */
export function spanIdentity(span: Uint8Array): Uint8Array {
	originalFound = undefined;
	const { traceId, spanId } = readSpanFields(span, IDENTITY_VISITOR);
	return concatBytes([originalFound ?? (traceId.length > 0 ? traceId : new Uint8Array(16)), spanId.length > 0 ? spanId : new Uint8Array(8)]);
}

export function readSpanFacts(span: Uint8Array): SpanFacts {
	const facts = readSpanFields(span) as SpanFacts;
	facts.name = utf8.decode(facts.nameBytes);
	return facts;
}

/** The string value of attribute `key` among the KeyValues in field `field` of `message`. */
export function stringAttribute(message: Uint8Array, field: number, key: Uint8Array): string | undefined {
	let found: string | undefined;
	const reader = new BinaryReader(message);
	while (reader.pos < reader.len) {
		const [no, wireType] = reader.tag();
		if (no === field && wireType === WireType.LengthDelimited) found = keyValueString(reader.bytes(), key) ?? found;
		else reader.skip(wireType, no);
	}
	return found;
}

const EMPTY = new Uint8Array(0);

function originalTraceId(keyValue: Uint8Array): Uint8Array | undefined {
	const hex = keyValueString(keyValue, ORIGINAL_TRACE_ID_KEY);
	const bytes = hex === undefined ? undefined : fromHex(hex);
	return bytes?.length === 16 ? bytes : undefined;
}

/**
 * The AnyValue bytes of a KeyValue whose key is one of `keys` (an empty AnyValue when it has none),
 * or undefined when the key is another.
 */
export function keyValueMatching(keyValue: Uint8Array, keys: readonly Uint8Array[]): Uint8Array | undefined {
	const reader = new BinaryReader(keyValue);
	let matches = false;
	let value: Uint8Array = EMPTY;
	while (reader.pos < reader.len) {
		const [field, wireType] = reader.tag();
		if (field === 1 && wireType === WireType.LengthDelimited) {
			const key = reader.bytes();
			matches = keys.some((k) => equalBytes(k, key));
			if (!matches) return undefined;
		} else if (field === 2 && wireType === WireType.LengthDelimited) value = reader.bytes();
		else reader.skip(wireType, field);
	}
	return matches ? value : undefined;
}

/** The string value of a KeyValue whose key equals `key`, else undefined. */
function keyValueString(keyValue: Uint8Array, key: Uint8Array): string | undefined {
	const value = keyValueMatching(keyValue, [key]);
	if (!value) return undefined;
	const any = new BinaryReader(value);
	let text: string | undefined;
	while (any.pos < any.len) {
		const [field, wireType] = any.tag();
		if (field === 1 && wireType === WireType.LengthDelimited) text = any.string();
		else any.skip(wireType, field);
	}
	return text;
}
