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

/** R2 custom metadata (at most 8,192 bytes in all, so the service list is cut to fit). */
export function summaryMetadata(summary: TraceSummary, extra: Record<string, string> = {}): Record<string, string> {
	const metadata: Record<string, string> = {
		spanCount: String(summary.spanCount),
		rootSpanName: summary.rootSpanName.slice(0, 512),
		services: "",
		startTimeUnixNano: String(summary.startTimeUnixNano),
		endTimeUnixNano: String(summary.endTimeUnixNano),
		error: String(summary.hasError),
		...extra,
	};
	let budget = 6000 - JSON.stringify(metadata).length;
	const services: string[] = [];
	for (const name of summary.serviceNames) {
		budget -= name.length + 1;
		if (budget < 0) break;
		services.push(name);
	}
	metadata.services = services.join(",");
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
