// What a trace's object does for search, at three moments: (a) its first span is accepted — an
// open entry goes to the partition, without delaying the ingest reply; (b) a finalization was
// written to R2 — the entry is replaced by the whole trace's, retried by the alarm for at most
// INDEX_RETRY_MS (then the trace is counted as unindexed: still readable by id, and its object
// frees its storage on schedule — a retry never blocks cleanup);
// (c) the trace was merged into another — a tombstone replaces its entry (the parent's entry holds
// its spans from the parent's next finalization). Index writes never fail or slow ingest: a failed
// open write is logged (the finalization write follows anyway), and (b) and (c) leave a note in the
// object's state row that the alarm retries with the same backoff as the R2 write. The hooks add
// no row to the object's own storage on the normal path: the entry's place rides along with the
// first finalization's state write.
import { loadConfig } from "../config";
import type { Env } from "../env";
import { countUsage } from "../metering/usage";
import { readSpanFacts } from "../otlp/span-facts";
import { forEachSpan, TracesDataWriter } from "../otlp/wire";
import { traceKey, type TraceAddress } from "../trace-address";
import { buildEntry, type TraceEntry } from "./entry";
import { partitionName, placedStartNs, shardFor } from "./partitions";
import { directoryOf, learnWindow, windowForWrite } from "./shard-cache";
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
	/** When the first of the failing attempts failed (the retries stop INDEX_RETRY_MS after it). */
	searchFailingSince?: number;
	/** When the index write was given up: the trace is not searchable (readable by id). */
	unindexed?: number;
}

/** A span as the object holds it: its group's heads and its encoding. */
export interface HeldSpan {
	readonly resource: Uint8Array;
	readonly scope: Uint8Array;
	readonly body: Uint8Array;
}

/** The part of the trace object's storage the hooks use. */
export interface SearchStateStore {
	readonly state: Readonly<SearchState & { finalized?: { at: number } }>;
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
	/** The sort key of the first accepted span, known at once; the shard needs the directory. */
	#sortKeyNs: bigint | undefined;
	#resolving: Promise<EntryPlace> | undefined;
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
			this.#sortKeyNs = this.#placedNs(readSpanFacts(first.body).startTimeUnixNano);
		}
	}

	/** (a) Spans were accepted by a trace that had none pending and is not merged: the first time, write an open entry. */
	opened(address: TraceAddress, added: readonly HeldSpan[]): void {
		if (added.length === 0 || this.#placeKnown()) return;
		this.#sortKeyNs = this.#placedNs(readSpanFacts(added[0]!.body).startTimeUnixNano);
		const spans = [...added];
		// After the ingest reply: the entry is built and written once this event's work is done.
		this.#ctx.waitUntil(
			new Promise<void>((resolve) => setTimeout(resolve, 0)).then(async () => {
				try {
					const place = await this.#placeOf(address);
					const writer = new TracesDataWriter();
					for (const span of spans) writer.add(span.resource, span.scope, span.body);
					await this.#put(address, place, rowOf(buildEntry(address.traceId, writer.finish()), EntryState.Open, 0, place.sortKey));
				} catch (e) {
					// Best effort: the finalization's entry (retried for up to INDEX_RETRY_MS) replaces this one anyway.
					console.warn(`TraceAssembler ${address.traceId}: open search entry not written:`, e);
				}
			}),
		);
	}

	/**
	 * The entry's place, resolved now: a finalization records it in R2's metadata with the trace
	 * (src/assembler/finalize.ts) instead of a state row. Undefined when it cannot be resolved yet
	 * (the directory is unreachable): the write goes on, and `finalized` persists the place later.
	 */
	async placeForWrite(address: TraceAddress, trace: Uint8Array): Promise<EntryPlace | undefined> {
		try {
			return await this.#placeOf(address, trace);
		} catch {
			return undefined;
		}
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
		let partition = "(not placed)";
		try {
			const place = await this.#placeOf(address, trace);
			partition = place.partition;
			await this.#put(address, place, rowOf(buildEntry(address.traceId, trace), stillOpen ? EntryState.Open : EntryState.Final, at, place.sortKey));
			const changes: SearchState = { ...this.placeToPersist() };
			if (this.#store.state.searchPending !== undefined) Object.assign(changes, { searchPending: undefined, searchFailingSince: undefined });
			if (Object.keys(changes).length > 0) this.#store.saveState(changes);
			return true;
		} catch (e) {
			return this.#failed(address, "final", `search entry not written to ${partition}`, e);
		}
	}

	/** (c) This trace's spans now live in another trace: its own entry becomes a tombstone. */
	async merged(address: TraceAddress): Promise<boolean> {
		// No entry was ever written from this object: nothing to hide. (An open write still in flight
		// lands in the same partition; the tombstone's version outranks it whichever comes first.)
		if (!this.#placeKnown() || this.#tombstoned) return true;
		let partition = "(not placed)";
		try {
			const place = await this.#placeOf(address);
			partition = place.partition;
			await this.#put(address, place, mergedRow(address.traceId, place.sortKey));
			this.#tombstoned = true;
			if (this.#store.state.searchPending !== undefined) this.#store.saveState({ searchPending: undefined, searchFailingSince: undefined });
			return true;
		} catch (e) {
			return this.#failed(address, "merged", `search tombstone not written to ${partition}`, e);
		}
	}

	/**
	 * A failed index write: retried by the alarm (false) until INDEX_RETRY_MS after the first
	 * failure, or until the object's retention ends if that comes first (cleanup never waits for
	 * the index); then given up (true): counted as unindexed with the tenant's directory.
	 */
	async #failed(address: TraceAddress, pending: "final" | "merged", what: string, error: unknown): Promise<boolean> {
		const now = Date.now();
		const { indexRetryMs, retentionMs } = loadConfig(this.#env);
		const since = this.#store.state.searchFailingSince ?? now;
		const finalizedAt = this.#store.state.finalized?.at;
		const deadline = Math.min(since + indexRetryMs, finalizedAt === undefined ? Number.POSITIVE_INFINITY : finalizedAt + retentionMs);
		if (now < deadline) {
			console.error(`TraceAssembler ${address.traceId}: ${what}, will retry until ${new Date(deadline).toISOString()}:`, error);
			this.#store.saveState({ ...this.placeToPersist(), searchPending: pending, searchFailingSince: since });
			return false;
		}
		console.error(`TraceAssembler ${address.traceId}: ${what}; retried since ${new Date(since).toISOString()}, giving up: the trace is unindexed (readable by id, not searchable):`, error);
		this.#store.saveState({ searchPending: undefined, searchFailingSince: undefined, unindexed: now });
		try {
			await directoryOf(this.#env, address.tenant).unindexed(address.traceId, now);
		} catch (e) {
			// Counting must not become a retry of its own: the log line above still names the trace.
			console.error(`TraceAssembler ${address.traceId}: unindexed trace not counted by the tenant's directory:`, e);
		}
		return true;
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
		let trace: Uint8Array;
		let uploaded: number;
		try {
			countUsage("r2ClassB");
			const object = await this.#env.TRACES.get(traceKey(address));
			if (!object || object.customMetadata?.mergedInto) {
				await object?.body.cancel();
				this.#store.saveState({ searchPending: undefined, searchFailingSince: undefined });
				return true;
			}
			trace = new Uint8Array(await object.arrayBuffer());
			uploaded = object.uploaded.getTime();
		} catch (e) {
			return this.#failed(address, "final", "the finalized trace could not be read back from R2 for its search entry", e);
		}
		return this.finalized(address, trace, uploaded);
	}

	#placeKnown(): boolean {
		return this.#sortKeyNs !== undefined || this.#currentPlace() !== undefined;
	}

	/** The persisted or resolved place; one persisted by an older version (hour partitions) is re-placed. */
	#currentPlace(): EntryPlace | undefined {
		const stored = this.#store.state.search;
		if (stored && stored.partition.startsWith("index/")) return stored;
		return this.#place;
	}

	/**
	 * The entry's place: its sort key is the first accepted span's start (or, with no open entry
	 * from this object — its storage was freed after retention and a late span came, or it predates
	 * the index — the trace's earliest span), its window the one holding that time, and its shard
	 * the one the window's shard history gives that time (the directory's answer, cached).
	 */
	async #placeOf(address: TraceAddress, trace?: Uint8Array): Promise<EntryPlace> {
		const known = this.#currentPlace();
		if (known) return known;
		this.#sortKeyNs ??= this.#placedNs(trace ? earliestStartNs(trace) : 0n);
		const sortKeyNs = this.#sortKeyNs;
		this.#resolving ??= (async () => {
			const atMs = Number(sortKeyNs / 1_000_000n);
			const window = await windowForWrite(this.#env, address.tenant, atMs, loadConfig(this.#env).searchPartitionMs);
			const place = { partition: partitionName(address.tenant, window.startMs, shardFor(window, address.traceId, atMs)), sortKey: sortKeyOf(sortKeyNs) };
			this.#place = place;
			return place;
		})().finally(() => (this.#resolving = undefined));
		return this.#resolving;
	}

	#placedNs(startNs: bigint): bigint {
		const config = loadConfig(this.#env);
		return placedStartNs(startNs, Date.now(), config.searchPartitionMs, config.indexRetentionMs);
	}

	async #put(address: TraceAddress, place: EntryPlace, row: IndexRow): Promise<void> {
		const [, , start, shard] = place.partition.split("/");
		const width = loadConfig(this.#env).searchPartitionMs;
		const window = await windowForWrite(this.#env, address.tenant, Number(start), width);
		const result = await this.#env.SEARCH_PARTITION.getByName(place.partition).put([row], { tenant: address.tenant, window, shard: Number(shard) });
		if (result.window) learnWindow(address.tenant, result.window);
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
