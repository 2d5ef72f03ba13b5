// Storing one trace's part of an export (or of a tail consumer's batch): to the trace's own
// object, or straight to the trace it was merged into once this isolate knows of the merge.
import type { IngestResult } from "../assembler/types";
import type { Env } from "../env";
import { objectName, type TraceAddress } from "../trace-address";
import { mergedTraces } from "./merged-traces";

/** A trace's part to its object, or straight to the trace it was merged into. */
export async function storePart(env: Env, address: TraceAddress, batch: Uint8Array): Promise<IngestResult> {
	const name = objectName(address);
	const merged = mergedTraces.get(name);
	if (merged) {
		const parent = { tenant: address.tenant, traceId: merged.intoTraceId };
		const moved = await env.TRACE_ASSEMBLER.getByName(objectName(parent)).adopt(parent, {
			fromTraceId: address.traceId,
			parentSpanId: merged.parentSpanId,
			path: [address.traceId],
			merges: [merged],
			batch,
		});
		// The parent counts nothing back for adopted spans; nothing was refused.
		if (moved.ok) return { accepted: 0, duplicates: 0, rejected: 0 };
		mergedTraces.forget(name);
	}
	const result = await env.TRACE_ASSEMBLER.getByName(name).ingest(address, batch);
	if (result.mergedInto) mergedTraces.remember(name, result.mergedInto);
	return result;
}
