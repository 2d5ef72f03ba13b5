// A trace's spans in the object's SQLite storage, with the pending ones mirrored in memory as
// encoded bytes. Storage is the truth: memory is rebuilt from it after an eviction or restart.
import { bytesKey } from "./bytes-key";

export interface SpanGroup {
	readonly id: number;
	/** ResourceSpans without scope_spans. */
	readonly resource: Uint8Array;
	/** ScopeSpans without spans. */
	readonly scope: Uint8Array;
}

export interface PendingSpan {
	readonly seq: number;
	readonly group: SpanGroup;
	readonly body: Uint8Array;
}

export interface IncomingSpan {
	readonly resourceHead: Uint8Array;
	readonly scopeHead: Uint8Array;
	readonly body: Uint8Array;
	/** Original trace id + span id (24 bytes): what makes a span "the same span" on a retry. */
	readonly identity: Uint8Array;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS span_groups (id INTEGER PRIMARY KEY, resource BLOB NOT NULL, scope BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS spans (identity BLOB PRIMARY KEY, seq INTEGER NOT NULL, group_id INTEGER, body BLOB) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
`;

// One INSERT per span made the statement calls most of an ingest's storage cost; a statement may
// bind at most 100 parameters (Durable Object SQLite limits), so 25 spans of 4 columns each.
const ROWS_PER_INSERT = 25;
const insertStatements: string[] = [];
function insertSpans(rows: number): string {
	return (insertStatements[rows] ??= `INSERT INTO spans (identity, seq, group_id, body) VALUES ${Array(rows).fill("(?, ?, ?, ?)").join(", ")}`);
}

export class SpanStore {
	readonly #sql: SqlStorage;
	/** Tables are created on the first write, so reading an unknown trace leaves no storage behind. */
	#hasTables: boolean;
	readonly #groupsByContent = new Map<string, SpanGroup>();
	readonly #groupsById = new Map<number, SpanGroup>();
	/** Identity keys of every span this object stored, written to R2 or not. */
	readonly #seen = new Set<string>();
	#pending: PendingSpan[] = [];
	#pendingBytes = 0;
	#lastSeq = 0;
	#writeGeneration = 0;
	readonly #meta = new Map<string, unknown>();

	constructor(sql: SqlStorage) {
		this.#sql = sql;
		this.#hasTables = sql.exec("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'spans'").toArray().length > 0;
		if (this.#hasTables) this.#load();
	}

	/**
	 * Stores the spans not seen before (durably, before this returns) and returns them. New spans
	 * beyond `room` (spans and bytes this trace may still take) are not stored: `dropped` counts them.
	 */
	add(incoming: readonly IncomingSpan[], room: { spans: number; bytes: number }): { added: PendingSpan[]; dropped: number } {
		this.#ensureTables();
		const added: PendingSpan[] = [];
		let dropped = 0;
		let spansLeft = room.spans;
		let bytesLeft = room.bytes;
		const groupCache = new Map<Uint8Array, Map<Uint8Array, SpanGroup>>();
		const rows: (Uint8Array | number)[] = [];
		for (const span of incoming) {
			const key = bytesKey(span.identity);
			if (this.#seen.has(key)) continue;
			if (spansLeft <= 0 || span.body.length > bytesLeft) {
				dropped++;
				continue;
			}
			spansLeft--;
			bytesLeft -= span.body.length;
			this.#seen.add(key);
			let byScope = groupCache.get(span.resourceHead);
			if (!byScope) groupCache.set(span.resourceHead, (byScope = new Map()));
			let group = byScope.get(span.scopeHead);
			if (!group) byScope.set(span.scopeHead, (group = this.#group(span.resourceHead, span.scopeHead)));
			const pending: PendingSpan = { seq: ++this.#lastSeq, group, body: span.body };
			rows.push(span.identity, pending.seq, group.id, span.body);
			added.push(pending);
		}
		for (let i = 0; i < rows.length; i += ROWS_PER_INSERT * 4) {
			const chunk = rows.slice(i, i + ROWS_PER_INSERT * 4);
			this.#sql.exec(insertSpans(chunk.length / 4), ...chunk);
		}
		// The batch's buffer stays referenced through `body` views; copy nothing, but count bytes.
		for (const span of added) this.#pendingBytes += span.body.length;
		this.#pending.push(...added);
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

	/** Every span ever stored here, pending or written. */
	get knownCount(): number {
		return this.#seen.size;
	}

	/** Counts markWritten calls, so a reader can tell that pending spans moved to R2 meanwhile. */
	get writeGeneration(): number {
		return this.#writeGeneration;
	}

	/** After a successful R2 write of spans up to `seq`: drop their bodies, keep their identities. */
	markWritten(seq: number): void {
		this.#writeGeneration++;
		this.#sql.exec("UPDATE spans SET body = NULL, group_id = NULL WHERE seq <= ? AND body IS NOT NULL", seq);
		this.#sql.exec("DELETE FROM span_groups WHERE id NOT IN (SELECT group_id FROM spans WHERE group_id IS NOT NULL)");
		this.#pending = this.#pending.filter((span) => span.seq > seq);
		this.#pendingBytes = 0;
		const live = new Set<SpanGroup>();
		for (const span of this.#pending) {
			this.#pendingBytes += span.body.length;
			live.add(span.group);
		}
		for (const [key, group] of this.#groupsByContent) {
			if (!live.has(group)) {
				this.#groupsByContent.delete(key);
				this.#groupsById.delete(group.id);
			}
		}
	}

	meta<T>(key: string): T | undefined {
		return this.#meta.get(key) as T | undefined;
	}

	setMeta(key: string, value: unknown): void {
		this.#ensureTables();
		if (value === undefined) {
			this.#sql.exec("DELETE FROM meta WHERE key = ?", key);
			this.#meta.delete(key);
		} else {
			this.#sql.exec("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", key, JSON.stringify(value));
			this.#meta.set(key, value);
		}
	}

	/** Forgets everything in memory; the caller deletes storage with `deleteAll`. */
	reset(): void {
		this.#hasTables = false;
		this.#groupsByContent.clear();
		this.#groupsById.clear();
		this.#seen.clear();
		this.#pending = [];
		this.#pendingBytes = 0;
		this.#lastSeq = 0;
		this.#meta.clear();
	}

	#ensureTables(): void {
		if (this.#hasTables) return;
		this.#sql.exec(SCHEMA);
		this.#hasTables = true;
	}

	#group(resource: Uint8Array, scope: Uint8Array): SpanGroup {
		const key = `${resource.length}:${bytesKey(resource)}${bytesKey(scope)}`;
		let group = this.#groupsByContent.get(key);
		if (!group) {
			const row = this.#sql.exec<{ id: number }>("INSERT INTO span_groups (resource, scope) VALUES (?, ?) RETURNING id", resource, scope).one();
			group = { id: row.id, resource, scope };
			this.#groupsByContent.set(key, group);
			this.#groupsById.set(group.id, group);
		}
		return group;
	}

	#load(): void {
		for (const row of this.#sql.exec<{ id: number; resource: ArrayBuffer; scope: ArrayBuffer }>("SELECT id, resource, scope FROM span_groups")) {
			const group = { id: row.id, resource: new Uint8Array(row.resource), scope: new Uint8Array(row.scope) };
			this.#groupsByContent.set(`${group.resource.length}:${bytesKey(group.resource)}${bytesKey(group.scope)}`, group);
			this.#groupsById.set(group.id, group);
		}
		const rows = this.#sql.exec<{ identity: ArrayBuffer; seq: number; group_id: number | null; body: ArrayBuffer | null }>(
			"SELECT identity, seq, group_id, body FROM spans ORDER BY seq",
		);
		for (const row of rows) {
			this.#seen.add(bytesKey(new Uint8Array(row.identity)));
			this.#lastSeq = Math.max(this.#lastSeq, row.seq);
			const group = row.group_id === null ? undefined : this.#groupsById.get(row.group_id);
			if (row.body !== null && group) {
				const body = new Uint8Array(row.body);
				this.#pending.push({ seq: row.seq, group, body });
				this.#pendingBytes += body.length;
			}
		}
		for (const row of this.#sql.exec<{ key: string; value: string }>("SELECT key, value FROM meta")) {
			this.#meta.set(row.key, JSON.parse(row.value));
		}
	}
}
