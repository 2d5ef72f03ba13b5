// A trace's search entry: the facts search needs, read from the trace's encoded spans, bounded so
// that one entry stays a small SQLite row however big the trace is. It is one row in one index
// partition (partition.ts), written when the trace opens and replaced when it is finalized.
import { create, fromBinary } from "@bufbuild/protobuf";
import { KeyValueSchema, type AnyValue, type KeyValue } from "../gen/opentelemetry/proto/common/v1/common_pb";
import { ResourceSpansSchema, SpanSchema } from "../gen/opentelemetry/proto/trace/v1/trace_pb";
import { readSpanFacts } from "../otlp/span-facts";
import { forEachSpan, toHex } from "../otlp/wire";

/** Spans of one trace kept for per-span matching and span sets; the rest count only in totals. */
export const ENTRY_MAX_SPANS = 1_000;
/** Distinct attribute (key, value) pairs kept per trace, resource and span scopes together. */
export const ENTRY_MAX_VALUES = 1_000;
/** Characters of keys and values kept per trace, all pairs together (keeps a row well under 2 MB). */
export const ENTRY_MAX_VALUE_CHARS = 128 * 1024;
/** An attribute value longer than this is kept cut to this length (and matches by that prefix). */
export const VALUE_MAX_CHARS = 1_024;
export const KEY_MAX_CHARS = 256;
/** Span names are kept up to this length. */
export const NAME_MAX_CHARS = 1_024;

export type ValueType = "s" | "i" | "d" | "b";
/** One distinct attribute value: key, type (string, int, double, bool) and value. */
export type Pair = [key: string, type: ValueType, value: string | number | boolean];

/**
 * One kept span. `resource` indexes `TraceEntry.resources`; `attributes` index `TraceEntry.values`.
 * Durations are nanoseconds (a double: exact up to 104 days). `parentSpanId` is "" for a span
 * without a parent; TraceQL's structural operators and root-span tests (`nestedSetParent<0`) need
 * it. Entries written before it existed lack it (read as unknown: such a span is never a root).
 */
export type EntrySpan = [spanId: string, name: string, startNs: string, durationNs: number, kind: number, status: number, resource: number, attributes: number[], statusMessage: string, parentSpanId?: string];

export interface TraceEntry {
	traceId: string;
	/** Earliest span start and latest span end, nanoseconds since the epoch, as decimal strings. */
	startNs: string;
	endNs: string;
	/** From the earliest span without a parent; absent while no root span has arrived. */
	rootServiceName?: string;
	rootName?: string;
	/** Every span of the trace, kept or not. */
	spanCount: number;
	/** Per `service.name`: spans and spans with error status (every span, kept or not). */
	services: Record<string, [spans: number, errors: number]>;
	values: Pair[];
	/** Per resource group: indexes into `values`. */
	resources: number[][];
	spans: EntrySpan[];
	/** What the caps left out: spans not kept, attribute values not kept. */
	dropped?: { spans: number; values: number };
}

export const UNKNOWN_SERVICE = "unknown_service";

interface SpanRecord {
	group: number;
	body: Uint8Array;
	parentless: boolean;
	error: boolean;
	order: number;
}

/** The entry of the trace (or part of it) in `encoded` (an OTLP TracesData). */
export function buildEntry(traceId: string, encoded: Uint8Array): TraceEntry {
	const groups = new Map<Uint8Array, number>();
	const groupHeads: Uint8Array[] = [];
	const groupServices: string[] = [];
	const records: SpanRecord[] = [];
	const services: Record<string, [number, number]> = {};
	let start: bigint | undefined;
	let end = 0n;
	let root: { start: bigint; name: string; group: number } | undefined;
	forEachSpan(encoded, (resourceHead, _scopeHead, body) => {
		let group = groups.get(resourceHead);
		if (group === undefined) {
			group = groupHeads.length;
			groups.set(resourceHead, group);
			groupHeads.push(resourceHead);
			groupServices.push(serviceNameOf(resourceHead));
		}
		const facts = readSpanFacts(body);
		const parentless = facts.parentSpanId.length === 0;
		const error = facts.statusCode === 2;
		if (start === undefined || facts.startTimeUnixNano < start) start = facts.startTimeUnixNano;
		if (facts.endTimeUnixNano > end) end = facts.endTimeUnixNano;
		if (parentless && (root === undefined || facts.startTimeUnixNano < root.start)) root = { start: facts.startTimeUnixNano, name: facts.name, group };
		const stats = (services[groupServices[group]!] ??= [0, 0]);
		stats[0]++;
		if (error) stats[1]++;
		records.push({ group, body, parentless, error, order: records.length });
	});
	const values = new ValueTable();
	const resources = groupHeads.map((head) => values.addAll(decodeResourceAttributes(head)));
	// Roots and errors first: they are what a search most often asks about.
	const kept = records.length <= ENTRY_MAX_SPANS ? records : [...records].sort((a, b) => rank(a) - rank(b) || a.order - b.order).slice(0, ENTRY_MAX_SPANS).sort((a, b) => a.order - b.order);
	const spans: EntrySpan[] = kept.map((record) => {
		const span = fromBinary(SpanSchema, record.body);
		return [
			toHex(span.spanId),
			span.name.slice(0, NAME_MAX_CHARS),
			String(span.startTimeUnixNano),
			Number(span.endTimeUnixNano > span.startTimeUnixNano ? span.endTimeUnixNano - span.startTimeUnixNano : 0n),
			span.kind,
			span.status?.code ?? 0,
			record.group,
			values.addAll(span.attributes),
			(span.status?.message ?? "").slice(0, VALUE_MAX_CHARS),
			toHex(span.parentSpanId),
		];
	});
	const entry: TraceEntry = {
		traceId,
		startNs: String(start ?? 0n),
		endNs: String(end),
		spanCount: records.length,
		services,
		values: values.pairs,
		resources,
		spans,
	};
	if (root) {
		entry.rootServiceName = groupServices[root.group]!;
		entry.rootName = root.name.slice(0, NAME_MAX_CHARS);
	}
	const droppedSpans = records.length - kept.length;
	if (droppedSpans > 0 || values.dropped > 0) entry.dropped = { spans: droppedSpans, values: values.dropped };
	return entry;
}

function rank(record: SpanRecord): number {
	return record.parentless ? 0 : record.error ? 1 : 2;
}

/** Distinct (key, type, value) pairs of one trace, within the caps. */
class ValueTable {
	readonly pairs: Pair[] = [];
	dropped = 0;
	readonly #index = new Map<string, number>();
	#chars = 0;

	addAll(attributes: readonly KeyValue[]): number[] {
		const out: number[] = [];
		for (const attribute of attributes) {
			const key = attribute.key.slice(0, KEY_MAX_CHARS);
			for (const [type, value] of scalars(attribute.value)) {
				const index = this.#add(key, type, value);
				if (index !== undefined && !out.includes(index)) out.push(index);
			}
		}
		return out;
	}

	#add(key: string, type: ValueType, value: string | number | boolean): number | undefined {
		const id = `${type}${key.length}:${key}=${String(value)}`;
		let index = this.#index.get(id);
		if (index !== undefined) return index;
		const chars = key.length + String(value).length;
		if (this.pairs.length >= ENTRY_MAX_VALUES || this.#chars + chars > ENTRY_MAX_VALUE_CHARS) {
			this.dropped++;
			return undefined;
		}
		index = this.pairs.length;
		this.pairs.push([key, type, value]);
		this.#index.set(id, index);
		this.#chars += chars;
		return index;
	}
}

/** The scalar values of an AnyValue; an array contributes each scalar element. */
function scalars(value: AnyValue | undefined, depth = 0): [ValueType, string | number | boolean][] {
	const v = value?.value;
	switch (v?.case) {
		case "stringValue":
			return [["s", v.value.slice(0, VALUE_MAX_CHARS)]];
		case "boolValue":
			return [["b", v.value]];
		case "intValue":
			return [["i", Number(v.value)]];
		case "doubleValue":
			return Number.isFinite(v.value) ? [["d", v.value]] : [["s", String(v.value)]];
		case "arrayValue":
			return depth > 0 ? [] : v.value.values.slice(0, 64).flatMap((element) => scalars(element, depth + 1));
		default:
			// kvlist and bytes values are not searchable.
			return [];
	}
}

function decodeResourceAttributes(resourceHead: Uint8Array): KeyValue[] {
	try {
		const attributes = fromBinary(ResourceSpansSchema, resourceHead).resource?.attributes ?? [];
		return attributes.some((a) => a.key === "service.name") ? attributes : [...attributes, serviceNameAttribute(UNKNOWN_SERVICE)];
	} catch {
		// The object accepted this head as sound; should it not decode, the spans still count.
		return [serviceNameAttribute(UNKNOWN_SERVICE)];
	}
}

function serviceNameAttribute(name: string): KeyValue {
	return create(KeyValueSchema, { key: "service.name", value: { value: { case: "stringValue", value: name } } });
}

function serviceNameOf(resourceHead: Uint8Array): string {
	for (const attribute of decodeResourceAttributes(resourceHead)) {
		if (attribute.key === "service.name" && attribute.value?.value.case === "stringValue") return attribute.value.value.value;
	}
	return UNKNOWN_SERVICE;
}
