// The trace R2 holds under a trace's key: a TracesData with summary metadata, or the empty
// redirect a merge leaves behind.
import type { Env } from "../env";
import { countUsage } from "../metering/usage";
import { traceKey, type TraceAddress } from "../trace-address";
import type { EntryPlace } from "../search/trace-hooks";
import type { PartStore } from "./part-store";
import type { MergeRecord } from "./types";

export interface StoredTrace {
	trace?: Uint8Array;
	spanCount: number;
	redirect?: MergeRecord;
	/** R2 custom metadata (the sampling decision rides there: src/forward/decision.ts). */
	metadata?: Record<string, string>;
}

export async function readStoredTrace(env: Env, address: TraceAddress): Promise<StoredTrace | undefined> {
	countUsage("r2ClassB");
	const object = await env.TRACES.get(traceKey(address));
	if (!object) return undefined;
	const redirect = object.customMetadata?.mergedInto;
	if (redirect) {
		const meta = object.customMetadata!;
		await object.body.cancel();
		return { spanCount: 0, redirect: { traceId: address.traceId, intoTraceId: redirect, parentSpanId: meta.parentSpanId ?? "", rule: (meta.rule ?? "hint") as MergeRecord["rule"] } };
	}
	return { trace: new Uint8Array(await object.arrayBuffer()), spanCount: Number(object.customMetadata?.spanCount ?? 0), metadata: object.customMetadata };
}

export function putCounted(env: Env, key: string, value: Uint8Array, options: R2PutOptions): Promise<R2Object | null> {
	countUsage("r2ClassA");
	return env.TRACES.put(key, value, options);
}

/**
 * R2 metadata that records, with the trace, which of the object's parts it holds: `writtenUpTo`
 * is `<epoch>:<seq>` (the epoch names this life of the object's storage, PartStore), and the
 * search entry's place rides along. It replaces the state row a finalization used to write (one
 * row written fewer per trace); `catchUpWithR2` reads it back after a restart.
 */
export function writtenMark(epoch: string | undefined, upTo: number, place: EntryPlace | undefined): Record<string, string> {
	if (epoch === undefined) return {};
	return { writtenUpTo: `${epoch}:${upTo}`, ...(place ? { searchPartition: place.partition, searchSortKey: place.sortKey } : {}) };
}

/**
 * After a restart, before any request: parts past the state row's `writtenUpTo` may be in R2
 * already (a finalization records that only in R2's metadata). One HEAD, only when parts look
 * pending. If R2 cannot be asked, the parts stay pending: the next write is the union of R2's copy
 * and them, the same trace again, so nothing is lost or doubled, only a write repeated.
 */
export async function catchUpWithR2(env: Env, store: PartStore): Promise<void> {
	const address = store.address;
	if (store.pending.length === 0 || store.epoch === undefined || !address || store.state.mergedInto) return;
	let object: R2Object | null;
	try {
		countUsage("r2ClassB");
		object = await env.TRACES.head(traceKey(address));
	} catch (e) {
		console.warn(`TraceAssembler ${address.traceId}: R2 metadata not read after a restart, parts stay pending:`, e);
		return;
	}
	const meta = object?.customMetadata ?? {};
	const [epoch, seq] = (meta.writtenUpTo ?? "").split(":");
	const upTo = Number(seq);
	if (!object || epoch !== store.epoch || !Number.isSafeInteger(upTo) || upTo <= store.state.writtenUpTo) return;
	store.noteWritten(upTo, {
		finalized: { at: object.uploaded.getTime(), spanCount: Number(meta.spanCount ?? 0) },
		storedBytes: object.size,
		...(store.state.search === undefined && meta.searchPartition && meta.searchSortKey !== undefined ? { search: { partition: meta.searchPartition, sortKey: meta.searchSortKey } } : {}),
	});
}
