// The first frames a new live subscriber gets: a redirect for a merged trace, or a snapshot of
// what exists now (R2's copy merged with pending spans), after which every batch is a delta.
import { finalizedFrame, redirectFrame, snapshotFrames, type TraceStatus } from "../live/messages";
import { traceKey, type TraceAddress } from "../trace-address";
import { assembleChunks } from "./assemble";
import type { TraceContext } from "./context";
import { readStoredTrace } from "./stored-trace";

/** Snapshot frames carry about this much protobuf each (a WebSocket message is at most 1 MiB). */
const SNAPSHOT_CHUNK_BYTES = 256 * 1024;

export async function subscriptionFrames(t: TraceContext, address: TraceAddress): Promise<{ frames: string[]; close: boolean }> {
	const merged = t.store.state.mergedInto;
	if (merged) return { frames: [redirectFrame(merged.intoTraceId)], close: true };
	// A finalization that completes while R2 is read would drop pending spans the read did not see
	// yet: read again until no write happened in between.
	let stored;
	let generation;
	do {
		generation = t.store.writeGeneration;
		stored = await readStoredTrace(t.env, address);
	} while (generation !== t.store.writeGeneration);
	if (stored?.redirect && t.store.pending.length === 0) return { frames: [redirectFrame(stored.redirect.intoTraceId)], close: true };
	const pending = t.store.pending;
	const status: TraceStatus = pending.length > 0 ? "partial" : stored?.trace ? "complete" : "waiting";
	const frames = snapshotFrames(status, assembleChunks(stored?.trace, pending, SNAPSHOT_CHUNK_BYTES));
	if (status === "complete") frames.push(finalizedFrame(stored!.spanCount, traceKey(address)));
	return { frames, close: false };
}
