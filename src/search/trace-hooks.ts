// What a trace's object does for search, at three moments: (a) its first span is accepted — an
// open entry goes to the partition, without delaying the ingest reply; (b) a finalization was
// written to R2 — the entry is replaced by the whole trace's, retried by the alarm until it lands;
// (c) the trace was merged into another — a tombstone replaces its entry (the parent's entry holds
// its spans from the parent's next finalization). Index writes never fail or slow ingest: a failed
// open write is logged (the finalization write follows anyway), and (b) and (c) leave a note in the
// object's state row that the alarm retries with the same backoff as the R2 write. The hooks add
// no row to the object's own storage on the normal path: the entry's place rides along with the
// first finalization's state write.
import type { Env } from "../env";
import { countUsage } from "../metering/usage";
import { readSpanFacts } from "../otlp/span-facts";
import { forEachSpan, TracesDataWriter } from "../otlp/wire";
import { traceKey, type TraceAddress } from "../trace-address";
import { buildEntry, type TraceEntry } from "./entry";
import { partitionFor, placedStartNs } from "./partitions";
import { EntryState, mergedRow, rowOf, sortKeyOf, type IndexRow } from "./row";

/** Where a trace's entry lives: chosen at its first span, fixed for the entry's life. */
export interface EntryPlace {
	partition: string;
	sortKey: string;
}

/** What the hooks keep in the trace object's state row (PartStore's TraceState). */
export interface SearchState {
	/** Persisted with the first finalization's state write (no row of its own). */
	search?: EntryPlace;
	/** An index write that failed and that the alarm retries. */
	searchPending?: "final" | "merged";
}

/** A span as the object holds it: its group's heads and its encoding. */
export interface HeldSpan {
	readonly resource: Uint8Array;
	readonly scope: Uint8Array;
	readonly body: Uint8Array;
}

/** The part of the trace object's storage the hooks use. */
export interface SearchStateStore {
	readonly state: Readonly<SearchState & { finalized?: unknown }>;
	saveState(changes: SearchState): void;
	readonly pending: readonly HeldSpan[];
	readonly address: TraceAddress | undefined;
}

export class TraceSearchHooks {
	readonly #env: Env;
	readonly #ctx: DurableObjectState;
	readonly #store: SearchStateStore;
	/** The entry's place before it is persisted (with the first finalization). */
	#place: EntryPlace | undefined;
	/** The merge tombstone is written (a repeat would write no row, but costs a call). */
	#tombstoned = false;

	constructor(env: Env, ctx: DurableObjectState, store: SearchStateStore) {
		this.#env = env;
		this.#ctx = ctx;
		this.#store = store;
		// Restarted before the first finalization: the first accepted span is still the first pending
		// one (parts load in arrival order), so the place is found again without having been stored.
		const address = store.address;
		const first = store.pending[0];
		if (address && first && !store.state.search && store.state.finalized === undefined) {
			this.#place = placeFor(address, readSpanFacts(first.body).startTimeUnixNano);
		}
	}

	/** (a) Spans were accepted by a trace that had none pending and is not merged: the first time, write an open entry. */
	opened(address: TraceAddress, added: readonly HeldSpan[]): void {
		if (added.length === 0 || this.#placeKnown()) return;
		const place = placeFor(address, readSpanFacts(added[0]!.body).startTimeUnixNano);
		this.#place = place;
		const spans = [...added];
		// After the ingest reply: the entry is built and written once this event's work is done.
		this.#ctx.waitUntil(
			new Promise<void>((resolve) => setTimeout(resolve, 0)).then(async () => {
				try {
					const writer = new TracesDataWriter();
					for (const span of spans) writer.add(span.resource, span.scope, span.body);
					await this.#put(place.partition, rowOf(buildEntry(address.traceId, writer.finish()), EntryState.Open, 0, place.sortKey));
				} catch (e) {
					// Best effort: the finalization's entry (retried until it lands) replaces this one anyway.
					console.warn(`TraceAssembler ${address.traceId}: open search entry not written to ${place.partition}:`, e);
				}
			}),
		);
	}

	/** State to write with the finalization's own state row: the entry's place, once. */
	placeToPersist(): SearchState {
		return this.#store.state.search === undefined && this.#place ? { search: this.#place } : {};
	}

	/**
	 * (b) After a successful R2 write of `trace` (the whole trace) at `at`: replace the entry, as an
	 * open one when spans arrived during the write (`stillOpen`: searches still re-check it). Returns
	 * false when the write failed; the caller then retries through its alarm (see `retry`).
	 */
	async finalized(address: TraceAddress, trace: Uint8Array, at: number, stillOpen = false): Promise<boolean> {
		const place = this.#placeOf(address, trace);
		try {
			await this.#put(place.partition, rowOf(buildEntry(address.traceId, trace), stillOpen ? EntryState.Open : EntryState.Final, at, place.sortKey));
			const changes: SearchState = { ...this.placeToPersist() };
			if (this.#store.state.searchPending !== undefined) changes.searchPending = undefined;
			if (Object.keys(changes).length > 0) this.#store.saveState(changes);
			return true;
		} catch (e) {
			console.error(`TraceAssembler ${address.traceId}: search entry not written to ${place.partition}, will retry:`, e);
			this.#store.saveState({ ...this.placeToPersist(), searchPending: "final" });
			return false;
		}
	}

	/** (c) This trace's spans now live in another trace: its own entry becomes a tombstone. */
	async merged(address: TraceAddress): Promise<boolean> {
		const place = this.#store.state.search ?? this.#place;
		// No entry was ever written from this object: nothing to hide.
		if (place === undefined || this.#tombstoned) return true;
		try {
			await this.#put(place.partition, mergedRow(address.traceId, place.sortKey));
			this.#tombstoned = true;
			if (this.#store.state.searchPending !== undefined) this.#store.saveState({ searchPending: undefined });
			return true;
		} catch (e) {
			console.error(`TraceAssembler ${address.traceId}: search tombstone not written to ${place.partition}, will retry:`, e);
			this.#store.saveState({ ...this.placeToPersist(), searchPending: "merged" });
			return false;
		}
	}

	/**
	 * The entry of an open trace as it stands now (every span that arrived, not only the batch that
	 * opened it), for a search to match against; undefined when nothing is pending or the trace was
	 * merged away. Reads nothing from R2 and writes nothing.
	 */
	currentEntry(address: TraceAddress, merged: boolean): TraceEntry | undefined {
		if (merged || this.#store.pending.length === 0) return undefined;
		const writer = new TracesDataWriter();
		for (const span of this.#store.pending) writer.add(span.resource, span.scope, span.body);
		return buildEntry(address.traceId, writer.finish());
	}

	/** Whether an index write failed and waits for the alarm. */
	get retryDue(): boolean {
		return this.#store.state.searchPending !== undefined;
	}

	/** The alarm's retry of a failed (b) or (c); the finalized trace is read back from R2. */
	async retry(address: TraceAddress): Promise<boolean> {
		const pending = this.#store.state.searchPending;
		if (pending === "merged") return this.merged(address);
		if (pending !== "final") return true;
		countUsage("r2ClassB");
		const object = await this.#env.TRACES.get(traceKey(address));
		if (!object || object.customMetadata?.mergedInto) {
			await object?.body.cancel();
			this.#store.saveState({ searchPending: undefined });
			return true;
		}
		const trace = new Uint8Array(await object.arrayBuffer());
		return this.finalized(address, trace, object.uploaded.getTime());
	}

	#placeKnown(): boolean {
		return this.#place !== undefined || this.#store.state.search !== undefined;
	}

	#placeOf(address: TraceAddress, trace: Uint8Array): EntryPlace {
		const known = this.#store.state.search ?? this.#place;
		if (known) return known;
		// No open entry from this object (its storage was freed after retention, then a late span
		// came, or it predates the index): file the trace under its earliest span.
		this.#place = placeFor(address, earliestStartNs(trace));
		return this.#place;
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
