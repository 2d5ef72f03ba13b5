// What the trace object's RPC methods take and answer; shared by the router and the object's parts.
import type { StitchCandidate } from "../stitch/detect";

/**
 * Readers follow a merge chain (C into B into A) at most this many hops to the trace that holds
 * everything; a longer chain is left where it stands rather than walked without bound.
 */
export const MAX_MERGE_HOPS = 8;

export interface IngestResult {
	/** Spans stored for the first time. */
	accepted: number;
	/** Spans this trace already had (an exporter's retry), not stored again. */
	duplicates: number;
	/** New spans refused because the trace reached a limit; `rejectReason` says which. */
	rejected: number;
	rejectReason?: string;
	/** Set once this trace is merged into another: later spans may go to the parent directly. */
	mergedInto?: MergeRecord;
}

/** A trace merged into this one (or this one into another): which rule fired, under which span. */
export interface MergeRecord {
	traceId: string;
	intoTraceId: string;
	parentSpanId: string;
	rule: StitchCandidate["rule"];
	/** The span whose recorded context made the claim (not for hints). */
	claimedBy?: string;
}

export interface Refusal {
	intoTraceId: string;
	reason: string;
}

export type TraceView =
	/** Nothing here: the trace is unknown, or its object has forgotten it (R2 may still hold it). */
	| { state: "unknown" }
	/** Finalized and not reopened: R2 holds all of it. */
	| { state: "complete"; key: string }
	/** Open: R2's copy (if any) merged with the spans not yet written. */
	| { state: "partial"; trace: Uint8Array; merged: MergeRecord[]; mergedCount: number; refused: Refusal[]; droppedSpans: number; sampling?: string; unwritten?: string }
	/** Merged into another trace: read that one. */
	| { state: "merged"; into: string };

/** A batch of another trace's spans moving into this one. */
export interface AdoptMessage {
	/** The trace the spans come from (they still carry its id). */
	fromTraceId: string;
	/** The span of this trace that the moving trace's roots hang under. */
	parentSpanId: string;
	/** Every trace the batch has passed through, to refuse a cycle without a global lock. */
	path: string[];
	/** The merges the batch's spans went through so far, so the final trace can list them all. */
	merges: MergeRecord[];
	batch: Uint8Array;
}

export type AdoptResult = { ok: true } | { ok: false; reason: string };

export type StitchResult =
	| { status: "merged"; into: string }
	| { status: "refused"; reason: string }
	/** A claim to verify (TAIL_STITCH_EXTERNAL=verified) whose parent span has not arrived yet: checked again at finalization. */
	| { status: "pending"; reason: string };
