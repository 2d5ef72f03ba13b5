// Bytes per index entry of the standard trace (64 spans exported in 8 parts, the bench load's
// shape), measured by running the index's own entry and row builders on it: what one finalized
// entry stores in its partition (every column of its row).
import { buildLoad } from "./bench-load.ts";
import { forEachSpan, TracesDataWriter, toHex } from "../../src/otlp/wire.ts";
import { readSpanFacts } from "../../src/otlp/span-facts.ts";
import { buildEntry } from "../../src/search/entry.ts";
import { EntryState, rowBytes, rowOf, sortKeyOf } from "../../src/search/row.ts";

export interface EntrySize {
	/** Every column of the finalized row, as SQLite stores its values. */
	rowBytes: number;
	/** The decoded entry as JSON (what the row held before the compact encoding). */
	jsonBytes: number;
	/** Of rowBytes: the TraceQL metrics rollups riding in the row (src/traceql/metrics/rollup.ts). */
	rollupBytes: number;
	spans: number;
}

/** The standard trace: one trace of the bench load (8 requests of 512 spans over 64 traces). */
export function standardTrace(): { traceId: string; trace: Uint8Array } {
	const load = buildLoad({ requests: 8 });
	const traceId = load.traceIds[0]!;
	const writer = new TracesDataWriter();
	for (const body of load.protobuf) {
		forEachSpan(body, (resource, scope, span) => {
			if (toHex(readSpanFacts(span).traceId) === traceId) writer.add(resource, scope, span);
		});
	}
	return { traceId, trace: writer.finish() };
}

export function measureEntrySize(): EntrySize {
	const { traceId, trace } = standardTrace();
	const entry = buildEntry(traceId, trace);
	const row = rowOf(entry, EntryState.Final, Date.now(), sortKeyOf(BigInt(entry.startNs)));
	const rollupBytes = (row.rollRoots?.length ?? 0) + (row.rollSpans?.length ?? 0);
	return { rowBytes: rowBytes(row), jsonBytes: new TextEncoder().encode(JSON.stringify(entry)).length, rollupBytes, spans: entry.spanCount };
}
