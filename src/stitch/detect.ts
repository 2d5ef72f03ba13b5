// Finding the propagated context that ties a trace to its caller's trace, in one encoded span.
import { BinaryReader, WireType } from "@bufbuild/protobuf/wire";
import { keyValueMatching } from "../otlp/span-facts";
import { equalBytes, isZero, readSpanFields, toHex } from "../otlp/wire";
import { parseTraceparent } from "./traceparent";

/** Which rule found a stitch; reported in the read API and R2 metadata. */
export type StitchRule = "traceparent" | "link" | "hint";

export interface StitchCandidate {
	/** The caller's trace, which the span's trace should join. */
	parentTraceId: string;
	/** The caller's span that the joining trace's root spans hang under. */
	parentSpanId: string;
	rule: StitchRule;
	/** The span (16 hex) whose recorded context made the claim; absent for a hint. */
	claimedBy?: string;
	/**
	 * Merge only once the parent span is found in the parent trace (TAIL_STITCH_EXTERNAL=verified:
	 * the context came from an unauthenticated request header, see src/tail/onset.ts).
	 */
	verify?: boolean;
}

/**
 * Set by the tail consumer on an invocation span whose recorded traceparent came from an outside
 * caller: "verified" (merge only when the claimed parent span exists) or "never" (do not merge).
 */
export const EXTERNAL_STITCH_ATTRIBUTE = "assembler.stitch_external";
const EXTERNAL_STITCH_KEY = new TextEncoder().encode(EXTERNAL_STITCH_ATTRIBUTE);

export interface StitchOptions {
	/** Attribute keys that may hold a recorded traceparent (STITCH_ATTRIBUTES). */
	attributeKeys: readonly Uint8Array[];
	/** Whether a root span's single link to another trace is a stitch (STITCH_LINKS). */
	links: boolean;
}

/**
 * A stitch from this span to another trace, if it carries one: a recorded traceparent whose trace
 * differs from the span's own, or (for a root span) exactly one link to another trace.
 */
export function detectStitch(span: Uint8Array, options: StitchOptions): StitchCandidate | undefined {
	scan.keys = options.attributeKeys;
	scan.recorded = undefined;
	scan.external = undefined;
	scan.links = 0;
	scan.link = undefined;
	const { traceId, spanId, parentSpanId } = readSpanFields(span, options.links ? SCAN_WITH_LINKS : SCAN);
	const { recorded, external, links, link: onlyLink } = scan;
	if (traceId.length === 0 || (recorded === undefined && links !== 1)) return undefined;
	const ownTraceId = toHex(traceId);
	const isRoot = parentSpanId.length === 0 || isZero(parentSpanId);
	const claim = () => (spanId.length === 8 ? { claimedBy: toHex(spanId) } : {});
	if (recorded !== undefined && external !== "never") {
		const parent = parseTraceparent(recorded);
		if (parent && parent.traceId !== ownTraceId) {
			return { parentTraceId: parent.traceId, parentSpanId: parent.spanId, rule: "traceparent", ...claim(), ...(external === "verified" ? { verify: true } : {}) };
		}
	}
	// A consumer linking to many producers is a fan-in, not a stitch: only a single link counts.
	if (isRoot && links === 1) {
		const link = linkContext(onlyLink!);
		if (link && link.parentTraceId !== ownTraceId) return { ...link, rule: "link", ...claim() };
	}
	return undefined;
}

/**
 * What the attribute and link visitors found in the span being scanned. Module state, one span at
 * a time (detectStitch is synchronous): every span an object takes in is scanned, so nothing is
 * allocated per span.
 */
const scan: { keys: readonly Uint8Array[]; recorded: string | undefined; external: string | undefined; links: number; link: Uint8Array | undefined } = {
	keys: [],
	recorded: undefined,
	external: undefined,
	links: 0,
	link: undefined,
};

function scanAttribute(keyValue: Uint8Array): void {
	// One look at each attribute's key: its value is read only on a match.
	const key = keyOf(keyValue);
	if (!key) return;
	if (scan.recorded === undefined && scan.keys.some((k) => equalBytes(k, key))) scan.recorded = stringValue(keyValue, key);
	else if (scan.external === undefined && equalBytes(EXTERNAL_STITCH_KEY, key)) scan.external = stringValue(keyValue, key);
}

const SCAN = { attribute: scanAttribute };
const SCAN_WITH_LINKS = {
	attribute: scanAttribute,
	link(link: Uint8Array): void {
		scan.links++;
		scan.link = link;
	},
};

/** The string (or first string of an array) value of a KeyValue whose key is one of `keys`. */
function stringValue(keyValue: Uint8Array, key: Uint8Array): string | undefined {
	const value = keyValueMatching(keyValue, [key]);
	return value ? firstString(value, 0) : undefined;
}

/** A KeyValue's key bytes (field 1), read without decoding the value. */
function keyOf(keyValue: Uint8Array): Uint8Array | undefined {
	const reader = new BinaryReader(keyValue);
	while (reader.pos < reader.len) {
		const [field, wireType] = reader.tag();
		if (field === 1 && wireType === WireType.LengthDelimited) return reader.bytes();
		reader.skip(wireType, field);
	}
	return undefined;
}

/** An AnyValue's string, or the first string inside its array value (the OTel header convention). */
function firstString(anyValue: Uint8Array, depth: number): string | undefined {
	const reader = new BinaryReader(anyValue);
	while (reader.pos < reader.len) {
		const [field, wireType] = reader.tag();
		if (field === 1 && wireType === WireType.LengthDelimited) return reader.string();
		if (field === 5 && wireType === WireType.LengthDelimited && depth === 0) {
			const list = new BinaryReader(reader.bytes());
			while (list.pos < list.len) {
				const [f, wt] = list.tag();
				if (f === 1 && wt === WireType.LengthDelimited) {
					const text = firstString(list.bytes(), depth + 1);
					if (text !== undefined) return text;
				} else list.skip(wt, f);
			}
			return undefined;
		}
		reader.skip(wireType, field);
	}
	return undefined;
}

function linkContext(link: Uint8Array): { parentTraceId: string; parentSpanId: string } | undefined {
	let traceId: Uint8Array | undefined;
	let spanId: Uint8Array | undefined;
	const reader = new BinaryReader(link);
	while (reader.pos < reader.len) {
		const [field, wireType] = reader.tag();
		if (field === 1 && wireType === WireType.LengthDelimited) traceId = reader.bytes();
		else if (field === 2 && wireType === WireType.LengthDelimited) spanId = reader.bytes();
		else reader.skip(wireType, field);
	}
	if (traceId?.length !== 16 || spanId?.length !== 8 || isZero(traceId) || isZero(spanId)) return undefined;
	return { parentTraceId: toHex(traceId), parentSpanId: toHex(spanId) };
}
