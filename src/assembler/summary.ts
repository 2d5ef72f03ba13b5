// What R2 custom metadata says about a stored trace, read from its encoding without decoding it.
import { BinaryReader, WireType } from "@bufbuild/protobuf/wire";
import { forEachSpan } from "../otlp/wire";
import { readSpanFacts, stringAttribute } from "../otlp/span-facts";

export interface TraceSummary {
	spanCount: number;
	rootSpanName: string;
	serviceNames: string[];
	startTimeUnixNano: bigint;
	endTimeUnixNano: bigint;
	hasError: boolean;
}

const SERVICE_NAME = new TextEncoder().encode("service.name");

export function summarizeTrace(encoded: Uint8Array): TraceSummary {
	const summary: TraceSummary = {
		spanCount: 0,
		rootSpanName: "",
		serviceNames: [],
		startTimeUnixNano: 0n,
		endTimeUnixNano: 0n,
		hasError: false,
	};
	const services = new Map<Uint8Array, string | undefined>();
	let rootStart: bigint | undefined;
	forEachSpan(encoded, (resourceHead, _scopeHead, span) => {
		if (!services.has(resourceHead)) services.set(resourceHead, serviceName(resourceHead));
		const facts = readSpanFacts(span);
		summary.spanCount++;
		if (facts.statusCode === 2) summary.hasError = true;
		if (summary.spanCount === 1 || facts.startTimeUnixNano < summary.startTimeUnixNano) summary.startTimeUnixNano = facts.startTimeUnixNano;
		if (facts.endTimeUnixNano > summary.endTimeUnixNano) summary.endTimeUnixNano = facts.endTimeUnixNano;
		// The root is the earliest span without a parent.
		if (facts.parentSpanId.length === 0 && (rootStart === undefined || facts.startTimeUnixNano < rootStart)) {
			rootStart = facts.startTimeUnixNano;
			summary.rootSpanName = facts.name;
		}
	});
	summary.serviceNames = [...new Set([...services.values()].filter((name): name is string => !!name))].sort();
	return summary;
}

/**
 * R2 custom metadata. It is at most 8,192 bytes in all (R2 limits), so lists are cut to fit:
 * `mergedTraces` lists `<trace id>:<rule>` of traces merged in, `refusedMerges` `<trace id>:<reason>`.
 */
export function summaryMetadata(
	summary: TraceSummary,
	traceId: string,
	merges: readonly { traceId: string; rule: string }[] = [],
	refusals: readonly { intoTraceId: string; reason: string }[] = [],
	droppedSpans = 0,
): Record<string, string> {
	const metadata: Record<string, string> = {
		traceId,
		spanCount: String(summary.spanCount),
		rootSpanName: summary.rootSpanName.slice(0, 512),
		startTimeUnixNano: String(summary.startTimeUnixNano),
		endTimeUnixNano: String(summary.endTimeUnixNano),
		error: String(summary.hasError),
	};
	if (droppedSpans > 0) {
		metadata.truncated = "true";
		metadata.droppedSpans = String(droppedSpans);
	}
	let budget = 7000 - JSON.stringify(metadata).length;
	const fit = (key: string, items: readonly string[], share: number) => {
		const kept: string[] = [];
		let room = Math.floor(budget * share);
		for (const item of items) {
			room -= item.length + 1;
			if (room < 0) break;
			kept.push(item);
		}
		if (kept.length > 0) {
			metadata[key] = kept.join(",");
			budget -= metadata[key].length + key.length + 6;
		}
	};
	fit("services", summary.serviceNames, 0.4);
	fit("mergedTraces", merges.map((m) => `${m.traceId}:${m.rule}`), 0.8);
	fit("refusedMerges", refusals.map((r) => `${r.intoTraceId}:${r.reason.replaceAll(",", ";")}`.slice(0, 300)), 1);
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
