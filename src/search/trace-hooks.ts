// What a trace's object does for search, at three moments: (a) its first span is accepted — an
// open entry goes to the partition, without delaying the ingest reply; (b) a finalization was
// written to R2 — the entry is replaced by the whole trace's, retried by the alarm until it lands;
// (c) the trace was merged into another — a tombstone replaces its entry (the parent's entry holds
// its spans from the parent's next finalization). Index writes never fail or slow ingest: a failed
// open write is logged (the finalization write follows anyway), and (b) and (c) leave a note in the
// object's meta that the alarm retries with the same backoff as the R2 write.
import type { Env } from "../env";
import { readSpanFacts } from "../otlp/span-facts";
import { forEachSpan, TracesDataWriter } from "../otlp/wire";
import { traceKey, type TraceAddress } from "../trace-address";
import { buildEntry } from "./entry";
import { partitionFor, placedStartNs } from "./partitions";
import { EntryState, mergedRow, rowOf, sortKeyOf, type IndexRow } from "./row";

/** The part of the trace object's storage the hooks use: its meta table. */
export interface MetaStore {
	meta<T>(key: string): T | undefined;
	setMeta(key: string, value: unknown): void;
}

/** A span as the object holds it: its group's heads and its encoding. */
export interface HeldSpan {
	readonly group: { readonly resource: Uint8Array; readonly scope: Uint8Array };
	readonly body: Uint8Array;
}

/** Where this trace's entry lives (partition and sort key), chosen at its first span and kept for the object's life. */
const PARTITION = "searchEntry";

interface EntryPlace {
	partition: string;
	sortKey: string;
}
/** "final" or "merged": an index write that failed and that the alarm retries. */
const PENDING = "searchPending";

export class TraceSearchHooks {
	readonly #env: Env;
	readonly #ctx: DurableObjectState;
	readonly #store: MetaStore;

	constructor(env: Env, ctx: DurableObjectState, store: MetaStore) {
		this.#env = env;
		this.#ctx = ctx;
		this.#store = store;
	}

	/** (a) Spans were accepted by a trace that is not merged: the first time, write an open entry. */
	opened(address: TraceAddress, added: readonly HeldSpan[]): void {
		if (added.length === 0 || this.#store.meta<string>(PARTITION) !== undefined) return;
		const place = placeFor(address, readSpanFacts(added[0]!.body).startTimeUnixNano);
		this.#store.setMeta(PARTITION, place);
		const spans = [...added];
		// After the ingest reply: the entry is built and written once this event's work is done.
		this.#ctx.waitUntil(
			new Promise<void>((resolve) => setTimeout(resolve, 0)).then(async () => {
				try {
					const writer = new TracesDataWriter();
					for (const span of spans) writer.add(span.group.resource, span.group.scope, span.body);
					await this.#put(place.partition, rowOf(buildEntry(address.traceId, writer.finish()), EntryState.Open, 0, place.sortKey));
				} catch (e) {
					// Best effort: the finalization's entry (retried until it lands) replaces this one anyway.
					console.warn(`TraceAssembler ${address.traceId}: open search entry not written to ${place.partition}:`, e);
				}
			}),
		);
	}

	/**
	 * (b) After a successful R2 write of `trace` (the whole trace) at `at`: replace the entry. Returns
	 * false when the write failed; the caller then retries through its alarm (see `retry`).
	 */
	async finalized(address: TraceAddress, trace: Uint8Array, at: number): Promise<boolean> {
		const place = this.#place(address, trace);
		try {
			await this.#put(place.partition, rowOf(buildEntry(address.traceId, trace), EntryState.Final, at, place.sortKey));
			if (this.#store.meta(PENDING) !== undefined) this.#store.setMeta(PENDING, undefined);
			return true;
		} catch (e) {
			console.error(`TraceAssembler ${address.traceId}: search entry not written to ${place.partition}, will retry:`, e);
			this.#store.setMeta(PENDING, "final");
			return false;
		}
	}

	/** (c) This trace's spans now live in another trace: its own entry becomes a tombstone. */
	async merged(address: TraceAddress): Promise<boolean> {
		const place = this.#store.meta<EntryPlace>(PARTITION);
		// No entry was ever written from this object: nothing to hide.
		if (place === undefined || this.#store.meta(PENDING) === "done-merged") return true;
		try {
			await this.#put(place.partition, mergedRow(address.traceId, place.sortKey));
			this.#store.setMeta(PENDING, "done-merged");
			return true;
		} catch (e) {
			console.error(`TraceAssembler ${address.traceId}: search tombstone not written to ${place.partition}, will retry:`, e);
			this.#store.setMeta(PENDING, "merged");
			return false;
		}
	}

	/** Whether an index write failed and waits for the alarm. */
	get retryDue(): boolean {
		const pending = this.#store.meta<string>(PENDING);
		return pending === "final" || pending === "merged";
	}

	/** The alarm's retry of a failed (b) or (c); the finalized trace is read back from R2. */
	async retry(address: TraceAddress): Promise<boolean> {
		const pending = this.#store.meta<string>(PENDING);
		if (pending === "merged") return this.merged(address);
		if (pending !== "final") return true;
		const object = await this.#env.TRACES.get(traceKey(address));
		if (!object || object.customMetadata?.mergedInto) {
			await object?.body.cancel();
			this.#store.setMeta(PENDING, undefined);
			return true;
		}
		const trace = new Uint8Array(await object.arrayBuffer());
		return this.finalized(address, trace, object.uploaded.getTime());
	}

	#place(address: TraceAddress, trace: Uint8Array): EntryPlace {
		let place = this.#store.meta<EntryPlace>(PARTITION);
		if (place === undefined) {
			// An object that wrote no open entry: file the trace under its earliest span.
			place = placeFor(address, earliestStartNs(trace));
			this.#store.setMeta(PARTITION, place);
		}
		return place;
	}

	async #put(partition: string, row: IndexRow): Promise<void> {
		await this.#env.SEARCH_PARTITION.getByName(partition).put([row]);
	}
}

function earliestStartNs(trace: Uint8Array): bigint {
	let start: bigint | undefined;
	forEachSpan(trace, (_resource, _scope, body) => {
		const facts = readSpanFacts(body);
		if (start === undefined || facts.startTimeUnixNano < start) start = facts.startTimeUnixNano;
	});
	return start ?? 0n;
}

/** The partition and sort key of a trace whose first accepted span started at `startNs`. */
export function placeFor(address: TraceAddress, startNs: bigint): EntryPlace {
	const now = Date.now();
	const placed = placedStartNs(startNs, now);
	return { partition: partitionFor(address.tenant, address.traceId, Number(placed / 1_000_000n), now), sortKey: sortKeyOf(placed) };
}
