// What R2 custom metadata says about a stored trace, read from its encoding without decoding it.
import { BinaryReader, WireType } from "@bufbuild/protobuf/wire";
import { forEachSpan } from "../otlp/wire";
import { readSpanFacts, spanIdentity, stringAttribute } from "../otlp/span-facts";
import { toHex } from "../otlp/wire";

export interface TraceSummary {
	spanCount: number;
	rootSpanName: string;
	serviceNames: string[];
	startTimeUnixNano: bigint;
	endTimeUnixNano: bigint;
	hasError: boolean;
	/** Distinct traces whose spans were merged in (spans whose original trace id is another's). */
	mergedTraceCount: number;
}

const SERVICE_NAME = new TextEncoder().encode("service.name");

export function summarizeTrace(encoded: Uint8Array, ownTraceId?: string): TraceSummary {
	const summary: TraceSummary = {
		spanCount: 0,
		rootSpanName: "",
		serviceNames: [],
		startTimeUnixNano: 0n,
		endTimeUnixNano: 0n,
		hasError: false,
		mergedTraceCount: 0,
	};
	const mergedFrom = new Set<string>();
	const services = new Map<Uint8Array, string | undefined>();
	let rootStart: bigint | undefined;
	forEachSpan(encoded, (resourceHead, _scopeHead, span) => {
		if (!services.has(resourceHead)) services.set(resourceHead, serviceName(resourceHead));
		const facts = readSpanFacts(span);
		summary.spanCount++;
		if (ownTraceId !== undefined) {
			const origin = originTraceIdOf(span);
			if (origin !== ownTraceId) mergedFrom.add(origin);
		}
		if (facts.statusCode === 2) summary.hasError = true;
		if (summary.spanCount === 1 || facts.startTimeUnixNano < summary.startTimeUnixNano) summary.startTimeUnixNano = facts.startTimeUnixNano;
		if (facts.endTimeUnixNano > summary.endTimeUnixNano) summary.endTimeUnixNano = facts.endTimeUnixNano;
		// The root is the earliest span without a parent.
		if (facts.parentSpanId.length === 0 && (rootStart === undefined || facts.startTimeUnixNano < rootStart)) {
			rootStart = facts.startTimeUnixNano;
			summary.rootSpanName = facts.name;
		}
	});
	summary.mergedTraceCount = mergedFrom.size;
	summary.serviceNames = [...new Set([...services.values()].filter((name): name is string => !!name))].sort();
	return summary;
}

/** Distinct traces merged into `encoded` (trace `ownTraceId`), read from its spans' identities. */
export function countMergedTraces(encoded: Uint8Array, ownTraceId: string): number {
	const origins = new Set<string>();
	forEachSpan(encoded, (_resource, _scope, span) => {
		const origin = originTraceIdOf(span);
		if (origin !== ownTraceId) origins.add(origin);
	});
	return origins.size;
}

/** The trace id a span was first sent under (its identity's first 16 bytes), hex. */
function originTraceIdOf(span: Uint8Array): string {
	return toHex(spanIdentity(span).subarray(0, 16));
}

/**
 * R2 custom metadata is at most 8,192 bytes, keys and values together (R2 limits). Values are UTF-8
 * on the wire, so a CJK character costs 3 bytes and an emoji 4: everything here is budgeted in
 * bytes, never in UTF-16 code units (`string.length`). The local simulator counts a value holding
 * any character above U+00FF as two bytes per code unit, which can exceed its UTF-8 size: the
 * budget takes the larger of the two, so what fits here fits both.
 */
export const R2_METADATA_LIMIT_BYTES = 8192;
/** Room kept for the fields R2 or a later change may add: the lists fill at most this much. */
const METADATA_BUDGET_BYTES = 7000;
/** The root span's name is cut to this many bytes (whole characters). */
const MAX_ROOT_NAME_BYTES = 512;
/** A refusal's reason is cut to this many bytes. */
const MAX_REFUSAL_BYTES = 300;

const encoder = new TextEncoder();

/** What one key or value costs against R2's metadata limit. */
export function metadataBytes(text: string): number {
	const utf8 = encoder.encode(text).length;
	const wide = /[^\u0000-\u00ff]/.test(text) ? text.length * 2 : text.length;
	return Math.max(utf8, wide);
}

/** The total a metadata record costs (keys and values). */
export function metadataSize(metadata: Record<string, string>): number {
	let total = 0;
	for (const [key, value] of Object.entries(metadata)) total += metadataBytes(key) + metadataBytes(value);
	return total;
}

/** `text` cut to at most `maxBytes` (as metadataBytes counts), never inside a character. */
export function clipToBytes(text: string, maxBytes: number): string {
	if (metadataBytes(text) <= maxBytes) return text;
	let low = 0;
	let high = text.length;
	// The longest prefix that fits (binary search on whole code points).
	while (low < high) {
		const mid = Math.ceil((low + high) / 2);
		if (metadataBytes(wholeCharacters(text, mid)) <= maxBytes) low = mid;
		else high = mid - 1;
	}
	return wholeCharacters(text, low);
}

/** The first `units` UTF-16 units of `text`, one fewer when that would split a surrogate pair. */
function wholeCharacters(text: string, units: number): string {
	const code = text.charCodeAt(units - 1);
	return code >= 0xd800 && code <= 0xdbff ? text.slice(0, units - 1) : text.slice(0, units);
}

/**
 * R2 custom metadata for a finalized trace, always within R2's limit: lists are cut to fit, and
 * when even the fixed fields cannot fit, a minimal record (ids, count, times) with
 * `metadataTruncated` is written instead of failing the write. `mergedTraces` lists
 * `<trace id>:<rule>` of the traces merged in (at most the first MAX_LISTED_MERGES, as the state
 * keeps them) and `mergedTraceCount` counts all of them; `refusedMerges` lists
 * `<trace id>:<reason>`.
 */
export function summaryMetadata(
	summary: TraceSummary,
	traceId: string,
	merges: readonly { traceId: string; rule: string }[] = [],
	refusals: readonly { intoTraceId: string; reason: string }[] = [],
	droppedSpans = 0,
	mergedTraceCount = Math.max(summary.mergedTraceCount, merges.length),
): Record<string, string> {
	const minimal: Record<string, string> = {
		traceId,
		spanCount: String(summary.spanCount),
		startTimeUnixNano: String(summary.startTimeUnixNano),
		endTimeUnixNano: String(summary.endTimeUnixNano),
		error: String(summary.hasError),
	};
	if (droppedSpans > 0) {
		minimal.truncated = "true";
		minimal.droppedSpans = String(droppedSpans);
	}
	if (mergedTraceCount > 0) minimal.mergedTraceCount = String(mergedTraceCount);
	const metadata: Record<string, string> = { ...minimal, rootSpanName: clipToBytes(summary.rootSpanName, MAX_ROOT_NAME_BYTES) };
	let budget = METADATA_BUDGET_BYTES - metadataSize(metadata);
	const fit = (key: string, items: readonly string[], share: number) => {
		const kept: string[] = [];
		let room = Math.floor(budget * share) - metadataBytes(key);
		for (const item of items) {
			room -= metadataBytes(item) + 1;
			if (room < 0) break;
			kept.push(item);
		}
		if (kept.length > 0) {
			metadata[key] = kept.join(",");
			budget -= metadataBytes(metadata[key]) + metadataBytes(key);
		}
	};
	fit("services", summary.serviceNames.map((name) => clipToBytes(name.replaceAll(",", ";"), MAX_ROOT_NAME_BYTES)), 0.4);
	fit("mergedTraces", merges.map((m) => `${m.traceId}:${m.rule}`), 0.8);
	fit("refusedMerges", refusals.map((r) => clipToBytes(`${r.intoTraceId}:${r.reason.replaceAll(",", ";")}`, MAX_REFUSAL_BYTES)), 1);
	// Cannot happen with the budget above; kept so that no input can make the write fail for ever.
	if (metadataSize(metadata) > R2_METADATA_LIMIT_BYTES) return { ...minimal, metadataTruncated: "true" };
	return metadata;
}

/** `service.name` from a ResourceSpans head (field 1 is the Resource, whose field 1 holds attributes). */
function serviceName(resourceHead: Uint8Array): string | undefined {
	const reader = new BinaryReader(resourceHead);
	let name: string | undefined;
	while (reader.pos < reader.len) {
		const [field, wireType] = reader.tag();
		if (field === 1 && wireType === WireType.LengthDelimited) name = stringAttribute(reader.bytes(), 1, SERVICE_NAME) ?? name;
		else reader.skip(wireType, field);
	}
	return name;
}
