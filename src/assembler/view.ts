// What a reader of GET /v1/traces/{id} should see now, from the object's side.
import { traceKey, type TraceAddress } from "../trace-address";
import { assembleTrace } from "./assemble";
import type { TraceContext } from "./context";
import { MAX_LISTED_MERGES } from "./merge";
import { readStoredTrace } from "./stored-trace";
import { countMergedTraces } from "./summary";
import type { TraceView } from "./types";
import { decisionHeader } from "../forward/decision";

export async function traceView(t: TraceContext, address: TraceAddress): Promise<TraceView> {
	const { store } = t;
	const mergedInto = store.state.mergedInto;
	if (mergedInto) return { state: "merged", into: mergedInto.intoTraceId };
	if (store.pending.length === 0) return store.state.finalized ? { state: "complete", key: traceKey(address) } : { state: "unknown" };
	const stored = await readStoredTrace(t.env, address);
	const trace = assembleTrace(stored?.trace, store.pending);
	const merged = (store.state.merges ?? []).slice(0, MAX_LISTED_MERGES);
	return {
		state: "partial",
		trace,
		merged,
		mergedCount: merged.length > 0 ? Math.max(merged.length, countMergedTraces(trace, address.traceId)) : 0,
		refused: store.state.refused ?? [],
		droppedSpans: store.droppedSpans,
		// A reopened trace keeps the decision made at its first finalization (src/forward/).
		...(t.forward.decision ? { sampling: decisionHeader(t.forward.decision) } : {}),
		// R2 refused the trace for good (finalize.ts): this object is the only copy, until retention.
		...(store.state.unwritten ? { unwritten: store.state.unwritten.reason } : {}),
	};
}
