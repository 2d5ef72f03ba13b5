// Storing one trace's part of an export (or of a tail consumer's batch): to the trace's own
// object, or straight to the trace it was merged into once this isolate knows of the merge.
import type { IngestResult } from "../assembler/types";
import type { Env } from "../env";
import { objectName, type TraceAddress } from "../trace-address";
import { mergedTraces } from "./merged-traces";
import type { SubrequestBudget } from "./subrequests";

/**
 * The subrequests `storePart` may make for this trace: 2 when this isolate knows the trace was
 * merged (the parent first, then the trace's own object if the parent refuses), else 1.
 */
export function partCost(address: TraceAddress): 1 | 2 {
	return mergedTraces.get(objectName(address)) ? 2 : 1;
}

/**
 * A trace's part to its object, or straight to the trace it was merged into. `cost` is what the
 * caller planned for (partCost at planning time): the shortcut to the parent is taken only when
 * two calls were planned, so a merge learnt meanwhile never makes this spend more.
 */
export async function storePart(env: Env, address: TraceAddress, batch: Uint8Array, budget: SubrequestBudget, cost: 1 | 2 = partCost(address)): Promise<IngestResult> {
	const name = objectName(address);
	const merged = cost === 2 ? mergedTraces.get(name) : undefined;
	if (merged) {
		const parent = { tenant: address.tenant, traceId: merged.intoTraceId };
		budget.spend();
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
	budget.spend();
	const result = await env.TRACE_ASSEMBLER.getByName(name).ingest(address, batch);
	if (result.mergedInto) mergedTraces.remember(name, result.mergedInto);
	return result;
}
