// Where a trace's sampling decision lives, so that late spans, reopened traces, alarm retries,
// evictions and restarts all find it: in the R2 object's custom metadata, written by the
// finalization's own R2 write and outliving the object's storage (RETENTION_MS); and in the trace
// object's state row (with the seq of the last part it covered) only when there is no R2 write to
// carry it (a dropped trace under STORE_TRACES=sampled) or the write failed after the send.
import type { Decision } from "./rules";

/** What the trace object's state row (PartStore's TraceState) holds for forwarding. */
export interface ForwardState {
	forward?: {
		decision: Decision;
		/** Parts up to this seq were judged: handed to the queue when kept, never sent when dropped. */
		upTo: number;
	};
}

const KEPT = "kept";
const DROPPED = "dropped";

/** R2 custom metadata for the decision (a few dozen bytes of R2's 8 KB). */
export function decisionMetadata(decision: Decision): Record<string, string> {
	return { sampling: decision.kept ? KEPT : DROPPED, samplingRule: decision.rule, sampleRate: String(decision.sampleRate) };
}

export function decisionFromMetadata(metadata: Record<string, string> | undefined): Decision | undefined {
	const sampling = metadata?.sampling;
	if (sampling !== KEPT && sampling !== DROPPED) return undefined;
	return { kept: sampling === KEPT, rule: metadata!.samplingRule ?? "", sampleRate: Number(metadata!.sampleRate ?? 0) || 0 };
}

/** The read API's header (and the viewer's): `kept; rule=errors; rate=1`. */
export function decisionHeader(decision: Decision): string {
	return `${decision.kept ? KEPT : DROPPED}; rule=${decision.rule}; rate=${decision.sampleRate}`;
}
