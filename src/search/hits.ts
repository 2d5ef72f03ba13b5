// A search result: what /api/search lists for one trace, from its entry and what matched in it.
import type { TraceEntry } from "./entry";
import type { MatchedSpan, TraceMatch } from "../traceql/match";

export interface SearchHit {
	traceId: string;
	version: number;
	startNs: string;
	startKey: string;
	durationMs: number;
	rootServiceName?: string;
	rootTraceName?: string;
	services: Record<string, [number, number]>;
	matched: number;
	spans: MatchedSpan[];
}

/** A search result from a trace's entry and what matched in it. */
export function hitOf(entry: TraceEntry, match: TraceMatch, version: number): SearchHit {
	const durationNs = BigInt(entry.endNs) - BigInt(entry.startNs);
	return {
		traceId: entry.traceId,
		version,
		startNs: entry.startNs,
		startKey: entry.startNs.padStart(20, "0"),
		durationMs: Number(durationNs > 0n ? durationNs / 1_000_000n : 0n),
		rootServiceName: entry.rootServiceName,
		rootTraceName: entry.rootName,
		services: entry.services,
		matched: match.matched,
		spans: match.spans,
	};
}
