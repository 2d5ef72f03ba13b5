// A trace's storage: one SQLite row per trace part (the spans of one export request that were new
// here, as one TracesData blob), and one row of the object's own state. Cloudflare bills rows
// written, not bytes, so a part costs one row however many spans it holds, and finalization and
// retention never touch a span: a part stays as it is until the object frees its storage, and
// the identities de-duplication needs are read back from the blobs after an eviction.
// Memory mirrors storage: pending spans (not yet in R2) as byte views, and every identity seen.
import { spanIdentity } from "../otlp/span-facts";
import { forEachSpan, TracesDataWriter } from "../otlp/wire";
import { execCounted, selectCounted } from "../metering/usage";
import type { TraceAddress } from "../trace-address";
import { bytesKey } from "./bytes-key";
import type { MergeRecord, Refusal } from "./types";
import type { SearchState } from "../search/trace-hooks";
import type { StitchCandidate } from "../stitch/detect";
import type { ForwardState } from "../forward/decision";

export interface PendingSpan {
	/** The part (row) the span arrived in. */
	readonly seq: number;
	/** When that part arrived (ms since epoch). */
	readonly arrivedAt: number;
	/** ResourceSpans without scope_spans. */
	readonly resource: Uint8Array;
	/** ScopeSpans without spans. */
	readonly scope: Uint8Array;
	readonly body: Uint8Array;
}

export interface IncomingSpan {
	readonly resourceHead: Uint8Array;
	readonly scopeHead: Uint8Array;
	readonly body: Uint8Array;
	/** Original trace id + span id (24 bytes): what makes a span "the same span" on a retry. */
	readonly identity: Uint8Array;
}

/** What the object remembers besides its spans; one row, rewritten as a whole. */
export interface TraceState extends SearchState, ForwardState {
	address?: TraceAddress;
	/** Parts up to this seq are in R2 (or moved to the parent trace). */
	writtenUpTo: number;
	/** The last successful R2 write. */
	finalized?: { at: number; spanCount: number };
	/** Size of the trace R2 holds, for the per-trace byte limit. */
	storedBytes?: number;
	failedAttempts?: number;
	/**
	 * The R2 write failed permanently (a 4xx) for the parts up to `upTo` and was given up at `at`:
	 * they stay readable from this object until retention frees its storage (finalize.ts).
	 */
	unwritten?: { at: number; upTo: number; reason: string };
	/** Set once this trace joined another (the outbox record: the move may still be under way). */
	mergedInto?: MergeRecord & { at: number };
	/** The R2 redirect for a merged trace is written. */
	movedStored?: boolean;
	/** Traces merged into this one. */
	merges?: MergeRecord[];
	/** A claim waiting for its parent span to be verified (TAIL_STITCH_EXTERNAL=verified), decided at finalization. */
	claim?: StitchCandidate & { at: number };
	refused?: Refusal[];
}

// One table: creating a table writes a row of sqlite_master, and that row is billed too. Row 0 is
// the state; parts count up from 1.
const SCHEMA = "CREATE TABLE IF NOT EXISTS parts (seq INTEGER PRIMARY KEY, arrived_at INTEGER NOT NULL, spans BLOB, dropped INTEGER NOT NULL DEFAULT 0, address TEXT, state TEXT)";
const STATE_SEQ = 0;
/** A row (or BLOB) is at most 2 MB (Durable Object SQLite limits): bigger parts take several rows. */
const MAX_ROW_BYTES = 1_900_000;

export class PartStore {
	readonly #sql: SqlStorage;
	/** The table is created on the first write, so reading an unknown trace leaves no storage behind. */
	#hasTable: boolean;
	/** Identity keys of every span this object stored, written to R2 or not. */
	readonly #seen = new Set<string>();
	#pending: PendingSpan[] = [];
	#pendingBytes = 0;
	#lastSeq = 0;
	#writeGeneration = 0;
	/** Spans refused for the trace's limits, summed over its parts. */
	#droppedSpans = 0;
	#state: TraceState = { writtenUpTo: 0 };
	#address: TraceAddress | undefined;
	/**
	 * Names this life of the object's storage (from its first part to retention's DROP TABLE): the
	 * R2 object's "written up to" mark counts for these parts only if it carries the same epoch.
	 * Kept in the first part row's unused `state` column, so it costs no row of its own.
	 */
	#epoch: string | undefined;

	constructor(sql: SqlStorage) {
		this.#sql = sql;
		this.#hasTable = selectCounted(sql, "SELECT 1 AS found FROM sqlite_master WHERE type = 'table' AND name = 'parts'").length > 0;
		if (this.#hasTable) this.#load();
	}

	/**
	 * Stores the spans not seen before as one part (durably, once the event's writes commit) and
	 * returns them. New spans beyond `room` (spans and bytes this trace may still take) are not
	 * stored: `dropped` counts them. `whole` is the part as it arrived: stored as it is when every
	 * span in it is new, instead of re-encoding the same bytes.
	 */
	add(address: TraceAddress, incoming: readonly IncomingSpan[], room: { spans: number; bytes: number }, now: number, whole?: Uint8Array): { added: PendingSpan[]; dropped: number } {
		const kept: IncomingSpan[] = [];
		let dropped = 0;
		let spansLeft = room.spans;
		let bytesLeft = room.bytes;
		const batchKeys = new Set<string>();
		for (const span of incoming) {
			const key = bytesKey(span.identity);
			if (this.#seen.has(key) || batchKeys.has(key)) continue;
			if (spansLeft <= 0 || span.body.length > bytesLeft) {
				dropped++;
				continue;
			}
			spansLeft--;
			bytesLeft -= span.body.length;
			batchKeys.add(key);
			kept.push(span);
		}
		if (kept.length === 0 && dropped === 0) return { added: [], dropped: 0 };
		this.#ensureTable();
		// Every part row names the trace, so no separate row is written for it.
		const addressJson = JSON.stringify(address);
		this.#address = address;
		const added: PendingSpan[] = [];
		for (const [blob, spans] of this.#rows(kept, kept.length === incoming.length ? whole : undefined)) {
			const seq = ++this.#lastSeq;
			execCounted(this.#sql, "INSERT INTO parts (seq, arrived_at, spans, dropped, address, state) VALUES (?, ?, ?, ?, ?, ?)", seq, now, blob, added.length === 0 ? dropped : 0, addressJson, this.#newEpoch());
			for (const span of spans) added.push({ seq, arrivedAt: now, resource: span.resourceHead, scope: span.scopeHead, body: span.body });
		}
		if (kept.length === 0) {
			// Only refused spans: the count must survive too (it reaches R2 metadata and readers).
			execCounted(this.#sql, "INSERT INTO parts (seq, arrived_at, spans, dropped, address, state) VALUES (?, ?, NULL, ?, ?, ?)", ++this.#lastSeq, now, dropped, addressJson, this.#newEpoch());
		}
		for (const key of batchKeys) this.#seen.add(key);
		for (const span of added) this.#pendingBytes += span.body.length;
		this.#pending.push(...added);
		this.#droppedSpans += dropped;
		return { added, dropped };
	}

	/** Spans stored but not yet written to R2, in arrival order. */
	get pending(): readonly PendingSpan[] {
		return this.#pending;
	}

	get pendingBytes(): number {
		return this.#pendingBytes;
	}

	get lastSeq(): number {
		return this.#lastSeq;
	}

	/** Whether a span of this identity (original trace id + span id, 24 bytes) was stored here. */
	has(identity: Uint8Array): boolean {
		return this.#seen.has(bytesKey(identity));
	}

	/** Every span ever stored here, pending or written. */
	get knownCount(): number {
		return this.#seen.size;
	}

	get droppedSpans(): number {
		return this.#droppedSpans;
	}

	/** When the first part not yet written arrived (parts arrive in seq order). */
	get firstPendingAt(): number | undefined {
		return this.#pending[0]?.arrivedAt;
	}

	/** When the last part not yet written arrived: the quiet period runs from here. */
	get lastArrivalAt(): number | undefined {
		return this.#pending.at(-1)?.arrivedAt;
	}

	/** Counts markWritten calls, so a reader can tell that pending spans moved to R2 meanwhile. */
	get writeGeneration(): number {
		return this.#writeGeneration;
	}

	/** Whether the object has anything in storage. */
	get stored(): boolean {
		return this.#hasTable;
	}

	/** The trace this object holds, once anything was stored. */
	get address(): TraceAddress | undefined {
		return this.#address ?? this.#state.address;
	}

	/** The object's state as loaded or last changed; change it through `saveState`. */
	get state(): Readonly<TraceState> {
		return this.#state;
	}

	/** This life of the object's storage (see #epoch); undefined before the first part, or for parts stored before epochs existed. */
	get epoch(): string | undefined {
		return this.#epoch;
	}

	/**
	 * The parts up to `seq` are in R2, and R2's metadata says so (finalize.ts): memory moves on
	 * with `changes`, storage keeps its state row as it is. After a restart the row may be behind
	 * R2; `catchUpWithR2` (stored-trace.ts) reads the mark back.
	 */
	noteWritten(seq: number, changes: Partial<TraceState>): void {
		this.markWritten(seq);
		const next: TraceState = { ...this.#state, ...changes, writtenUpTo: seq };
		for (const key of Object.keys(next) as (keyof TraceState)[]) if (next[key] === undefined) delete next[key];
		this.#state = next;
	}

	/** Applies `changes` (undefined deletes a field) and writes the state row: one row written. */
	saveState(changes: Partial<TraceState>): void {
		const next: TraceState = { address: this.#address, ...this.#state, ...changes };
		for (const key of Object.keys(next) as (keyof TraceState)[]) if (next[key] === undefined) delete next[key];
		this.#ensureTable();
		execCounted(
			this.#sql,
			"INSERT INTO parts (seq, arrived_at, state) VALUES (?, ?, ?) ON CONFLICT (seq) DO UPDATE SET state = excluded.state",
			STATE_SEQ,
			0,
			JSON.stringify(next),
		);
		this.#state = next;
	}

	/**
	 * After a successful R2 write (or move) of the parts up to `seq`: forgets their bodies in memory.
	 * Storage changes only through the caller's `saveState({ writtenUpTo: seq })`, in the same event.
	 */
	markWritten(seq: number): void {
		this.#writeGeneration++;
		this.#pending = this.#pending.filter((span) => span.seq > seq);
		this.#pendingBytes = 0;
		for (const span of this.#pending) this.#pendingBytes += span.body.length;
	}

	/** Forgets everything in memory; the caller frees storage (see Retention). */
	reset(): void {
		this.#hasTable = false;
		this.#seen.clear();
		this.#pending = [];
		this.#pendingBytes = 0;
		this.#lastSeq = 0;
		this.#droppedSpans = 0;
		this.#state = { writtenUpTo: 0 };
		this.#address = undefined;
		this.#epoch = undefined;
	}

	/** Drops the table: the cursor counts no row written for it, where DELETE counts every row. */
	dropTable(): void {
		if (this.#hasTable) execCounted(this.#sql, "DROP TABLE IF EXISTS parts");
	}

	/** The kept spans as row blobs of at most MAX_ROW_BYTES each (one blob for any ordinary part). */
	*#rows(spans: readonly IncomingSpan[], whole: Uint8Array | undefined): Generator<[Uint8Array, IncomingSpan[]]> {
		if (spans.length === 0) return;
		if (whole && whole.length <= MAX_ROW_BYTES) {
			yield [whole, [...spans]];
			return;
		}
		let writer = new TracesDataWriter();
		let group: IncomingSpan[] = [];
		let heads = new Set<Uint8Array>();
		let size = 0;
		for (const span of spans) {
			// A span's framing is at most 16 bytes; each distinct head is written once per blob.
			const grows = (head: Uint8Array) => (heads.has(head) ? 0 : head.length + 16);
			const cost = span.body.length + 16 + grows(span.resourceHead) + grows(span.scopeHead);
			if (group.length > 0 && size + cost > MAX_ROW_BYTES) {
				yield [writer.finish(), group];
				writer = new TracesDataWriter();
				group = [];
				heads = new Set();
				size = 0;
			}
			size += span.body.length + 16 + grows(span.resourceHead) + grows(span.scopeHead);
			heads.add(span.resourceHead).add(span.scopeHead);
			writer.add(span.resourceHead, span.scopeHead, span.body);
			group.push(span);
		}
		yield [writer.finish(), group];
	}

	/** The epoch to store with a part row: a fresh one with the first part, none after. */
	#newEpoch(): string | null {
		if (this.#epoch !== undefined || this.#lastSeq !== 1) return null;
		this.#epoch = crypto.randomUUID();
		return this.#epoch;
	}

	#ensureTable(): void {
		if (this.#hasTable) return;
		execCounted(this.#sql, SCHEMA);
		this.#hasTable = true;
	}

	#load(): void {
		const rows = selectCounted<{ seq: number; arrived_at: number; spans: ArrayBuffer | null; dropped: number; address: string | null; state: string | null }>(
			this.#sql,
			"SELECT seq, arrived_at, spans, dropped, address, state FROM parts ORDER BY seq",
		);
		const stateRow = rows.find((row) => row.seq === STATE_SEQ);
		if (stateRow?.state) this.#state = JSON.parse(stateRow.state) as TraceState;
		const writtenUpTo = this.#state.writtenUpTo;
		for (const row of rows) {
			if (row.seq === STATE_SEQ) continue;
			this.#lastSeq = Math.max(this.#lastSeq, row.seq);
			if (row.state) this.#epoch ??= row.state;
			this.#droppedSpans += row.dropped;
			if (row.address) this.#address ??= JSON.parse(row.address) as TraceAddress;
			if (row.spans === null) continue;
			const blob = new Uint8Array(row.spans);
			if (row.seq <= writtenUpTo) {
				// In R2 already: only the identities stay in memory, the bytes are garbage.
				forEachSpan(blob, (_resource, _scope, body) => this.#seen.add(bytesKey(spanIdentity(body))));
				continue;
			}
			forEachSpan(blob, (resource, scope, body) => {
				this.#seen.add(bytesKey(spanIdentity(body)));
				this.#pending.push({ seq: row.seq, arrivedAt: row.arrived_at, resource, scope, body });
				this.#pendingBytes += body.length;
			});
		}
	}
}
