// What a reader of GET /v1/traces/{id} should see now, from the object's side.
import { traceKey, type TraceAddress } from "../trace-address";
import { assembleTrace } from "./assemble";
import type { TraceContext } from "./context";
import { readStoredTrace } from "./stored-trace";
import type { TraceView } from "./types";
import { decisionHeader } from "../forward/decision";

export async function traceView(t: TraceContext, address: TraceAddress): Promise<TraceView> {
	const { store } = t;
	const merged = store.state.mergedInto;
	if (merged) return { state: "merged", into: merged.intoTraceId };
	if (store.pending.length === 0) return store.state.finalized ? { state: "complete", key: traceKey(address) } : { state: "unknown" };
	const stored = await readStoredTrace(t.env, address);
	return {
		state: "partial",
		trace: assembleTrace(stored?.trace, store.pending),
		merged: store.state.merges ?? [],
		refused: store.state.refused ?? [],
		droppedSpans: store.droppedSpans,
		// A reopened trace keeps the decision made at its first finalization (src/forward/).
		...(t.forward.decision ? { sampling: decisionHeader(t.forward.decision) } : {}),
		// R2 refused the trace for good (finalize.ts): this object is the only copy, until retention.
		...(store.state.unwritten ? { unwritten: store.state.unwritten.reason } : {}),
	};
}
