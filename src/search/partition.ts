// One index partition (a tenant's time window, one shard): a Durable Object whose SQLite table holds
// one row per trace. Writing an entry is one row written (a WITHOUT ROWID table keyed by (sort key,
// trace id), no other index); searching scans the window's rows newest first, which is cheap (rows
// read cost a thousandth of rows written), filtering in SQL first and matching exactly in code.
// It watches its own load: past SEARCH_SHARD_MAX_WRITES_PER_S or SEARCH_SHARD_MAX_BYTES it asks the
// tenant's directory to split the window (further traces spread over twice the shards), and it
// reports its peak rate and size to the directory when the next window's shard count is chosen.
// Once its window is older than INDEX_RETENTION_MS its alarm deletes it: DROP TABLE (no row written)
// and deleteAll(), which also clears the alarm and leaves the object costing nothing.
import { DurableObject } from "cloudflare:workers";
import type { Env } from "../env";
import { loadConfig } from "../config";
import { countUsage, enableUsageCounting, execCounted, selectCounted, setAlarmCounted } from "../metering/usage";
import { directoryOf } from "./shard-cache";
import { shardsOf, type IndexWindow } from "./partitions";
import type { ValueType } from "./entry";
import { decodeEntry } from "./entry-codec";
import { compileQuery, type CompiledQuery } from "../traceql/match";
import { hitOf, type SearchHit } from "./hits";
import { CATALOG_MAX_VALUES, TagCatalog, TYPE_NAMES, type PartitionTagValue } from "./tag-catalog";
import { EntryState, type IndexRow } from "./row";
import { parseTraceQL } from "../traceql/parse";
import type { PartialResult } from "../traceql/metrics/accumulate";
import { evaluatePartition, type MetricsRow, type PartitionMetrics } from "../traceql/metrics/evaluate";

// Column order matters for scans: the small columns that filters read come first, so SQLite finds
// them in the part of each row stored in the table's leaf pages; the entry (often longer than
// that part) comes last and is read only for rows that pass the filters.
const SCHEMA = `CREATE TABLE IF NOT EXISTS traces (
	sort_key TEXT NOT NULL,
	trace_id TEXT NOT NULL,
	state INTEGER NOT NULL,
	version INTEGER NOT NULL,
	start_ms INTEGER NOT NULL,
	end_ms INTEGER NOT NULL,
	start_key TEXT NOT NULL,
	duration_ns INTEGER NOT NULL,
	min_span_ns INTEGER NOT NULL,
	max_span_ns INTEGER NOT NULL,
	error INTEGER NOT NULL,
	root_service TEXT,
	root_name TEXT,
	b0 INTEGER NOT NULL, b1 INTEGER NOT NULL, b2 INTEGER NOT NULL, b3 INTEGER NOT NULL, b4 INTEGER NOT NULL, b5 INTEGER NOT NULL,
	terms TEXT NOT NULL,
	roll_roots TEXT,
	roll_spans TEXT,
	entry BLOB NOT NULL,
	PRIMARY KEY (sort_key, trace_id)
) WITHOUT ROWID`;

// The row replaces the stored one only when newer: an open entry (version 0) never overwrites a
// finalized one, a late retry of an older finalization never overwrites a newer one, and nothing
// overwrites a merge tombstone. A skipped update writes no row.
const UPSERT = `INSERT INTO traces (sort_key, trace_id, state, version, start_ms, end_ms, start_key, duration_ns, min_span_ns, max_span_ns, error, root_service, root_name, b0, b1, b2, b3, b4, b5, terms, roll_roots, roll_spans, entry)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (sort_key, trace_id) DO UPDATE SET state = excluded.state, version = excluded.version, start_ms = excluded.start_ms, end_ms = excluded.end_ms,
	start_key = excluded.start_key, duration_ns = excluded.duration_ns, min_span_ns = excluded.min_span_ns, max_span_ns = excluded.max_span_ns,
	error = excluded.error, root_service = excluded.root_service, root_name = excluded.root_name,
	b0 = excluded.b0, b1 = excluded.b1, b2 = excluded.b2, b3 = excluded.b3, b4 = excluded.b4, b5 = excluded.b5, terms = excluded.terms, roll_roots = excluded.roll_roots, roll_spans = excluded.roll_spans, entry = excluded.entry
WHERE excluded.version > traces.version`;

// Where the partition is: written once, with the table, so that its alarm knows when its window
// expires and its budget checks know which window to split. Load counters ride in the same table,
// saved at most every STATS_SAVE_MS from a write (one row), not per write.
const META_SCHEMA = `CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)`;
const STATS_SAVE_MS = 60_000;
/** Write rates are averaged over this long (a rate is what the object's ~1,000 requests/s limit is about). */
const RATE_WINDOW_MS = 2_000;
/** After asking for a split, a partition waits this long before asking again. */
const SPLIT_COOLDOWN_MS = 5_000;

/** What a writer tells the partition about where it is (the first write records it). */
export interface PartitionPlace {
	tenant: string;
	window: IndexWindow;
	shard: number;
}

/** A partition's load, for the directory's choice of the next window's shards and the status endpoint. */
export interface PartitionStats {
	/** Rows written by entry writes since the object started (tests and the benchmark read it). */
	rowsWritten: number;
	/** Entries stored (tombstones included). */
	rows: number;
	/** Entry writes since the partition was created. */
	writes: number;
	/** The partition's database size. */
	bytes: number;
	/** The highest entry writes per second seen, averaged over RATE_WINDOW_MS. */
	peakWritesPerS: number;
}

interface SavedLoad {
	writes: number;
	peakWritesPerS: number;
}

export interface PartitionSearch {
	query: string;
	startMs: number;
	endMs: number;
	limit: number;
	spss: number;
	/** How many open traces that did not match to name in `openMisses` (0: none). */
	recheckOpen: number;
}

export type { PartitionTagValue } from "./tag-catalog";
export type { SearchHit } from "./hits";

export interface PartitionResult {
	hits: SearchHit[];
	/**
	 * Open traces in the range (newest first, a few) whose open entry did not match: their entry
	 * holds only the batch that opened them, so the search asks their objects about what arrived since.
	 */
	openMisses: { traceId: string; version: number }[];
	/** Rows the prefilter let through and that were matched exactly. */
	inspected: number;
	/** Whether the partition ran out of rows before `limit` hits. */
	exhausted: boolean;
}

export interface TagNames {
	resource: string[];
	span: string[];
}

interface OpenEntry {
	sortKey: string;
	startMs: number;
	endMs: number;
}

/** The traces a narrowed tag-values request looks at. */
export interface PartitionWhere {
	query: string;
	startMs: number;
	endMs: number;
}

/** A narrowed tag-values request reads at most this many entries per partition (newest first). */
const NARROW_MAX_TRACES = 2_000;

/** Which values a tag-values request asks for. */
export type TagTarget = { kind: "attribute"; scope: "resource" | "span" | "any"; key: string } | { kind: "name" | "rootName" | "rootServiceName" | "statusMessage" };

function newest(hits: SearchHit[], limit: number): SearchHit[] {
	return hits.sort((a, b) => (a.startKey < b.startKey ? 1 : a.startKey > b.startKey ? -1 : a.traceId < b.traceId ? 1 : -1)).slice(0, limit);
}

export class SearchPartition extends DurableObject<Env> {
	readonly #sql: SqlStorage;
	#catalog: TagCatalog | undefined;
	#open: Map<string, OpenEntry> | undefined;
	readonly #queries = new Map<string, CompiledQuery>();
	/** Rows written by entry writes since the object started (tests and the benchmark read it). */
	#rowsWritten = 0;

	/** The table is created by the first write: a search of a window nobody wrote to leaves no storage. */
	#hasTable: boolean;
	#place: PartitionPlace | undefined;
	#load: SavedLoad = { writes: 0, peakWritesPerS: 0 };
	#loadSavedAt = 0;
	/** Entry writes in the current rate window, and when it began. */
	#rateWrites = 0;
	#rateFrom = 0;
	#splitAskedAt = 0;

	constructor(ctx: DurableObjectState, env: Env) {
		super(ctx, env);
		enableUsageCounting(env);
		this.#sql = ctx.storage.sql;
		this.#hasTable = selectCounted(this.#sql, "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'traces'").length > 0;
		if (this.#hasTable) {
			for (const row of selectCounted<{ key: string; value: string }>(this.#sql, "SELECT key, value FROM meta")) {
				if (row.key === "place") this.#place = JSON.parse(row.value) as PartitionPlace;
				if (row.key === "load") this.#load = JSON.parse(row.value) as SavedLoad;
			}
		}
		// Tables created before the metrics rollups lack their columns: added once (rows keep NULL and are answered from the entry).
		if (this.#hasTable && !selectCounted(this.#sql, "SELECT 1 FROM pragma_table_info('traces') WHERE name = 'roll_roots'").length) {
			execCounted(this.#sql, "ALTER TABLE traces ADD COLUMN roll_roots TEXT");
			execCounted(this.#sql, "ALTER TABLE traces ADD COLUMN roll_spans TEXT");
		}
	}

	/** A TraceQL metrics query over this partition's rows: partial series for the router to merge. */
	async metrics(request: PartitionMetrics): Promise<PartialResult> {
		countUsage("objectCalls");
		const empty: PartialResult = { series: {}, inspectedTraces: 0, inspectedSpans: 0, rowsRead: 0, openTraces: 0, truncatedTraces: 0, rollupRows: 0 };
		if (!this.#hasTable) return empty;
		return evaluatePartition(
			request,
			(columns, where, fromMs, toMs) => {
				const n = where.params.length;
				const cursor = this.#sql.exec<MetricsRow & Record<string, SqlStorageValue>>(`SELECT ${columns} FROM traces WHERE state < 2 AND start_ms <= ?${n + 1} AND end_ms >= ?${n + 2} AND ${where.sql}`, ...where.params, toMs, fromMs);
				return {
					rows: cursor,
					rowsRead: () => {
						countUsage("rowsRead", cursor.rowsRead);
						return cursor.rowsRead;
					},
				};
			},
			decodeEntry,
		);
	}

	/**
	 * Writes entries (each replaces the stored row of its trace only if newer). Answers with the
	 * window's shard history when the partition knows of more shards than the writer did (a split).
	 */
	async put(rows: IndexRow[], place?: PartitionPlace): Promise<{ rowsWritten: number; window?: IndexWindow }> {
		countUsage("objectCalls");
		if (!this.#hasTable) {
			execCounted(this.#sql, SCHEMA);
			execCounted(this.#sql, META_SCHEMA);
			this.#hasTable = true;
		}
		if (place && !this.#place) await this.#settle(place);
		else if (place && this.#place && shardsOf(place.window) > shardsOf(this.#place.window)) this.#place = { ...this.#place, window: place.window };
		let written = 0;
		for (const row of rows) {
			const [b0, b1, b2, b3, b4, b5] = row.bloom;
			const cursor = this.#sql.exec(UPSERT, row.sortKey, row.traceId, row.state, row.version, row.startMs, row.endMs, row.startKey, row.durationNs, row.minSpanNs, row.maxSpanNs, row.error, row.rootService, row.rootName, b0!, b1!, b2!, b3!, b4!, b5!, row.terms, row.rollRoots, row.rollSpans, row.entry);
			written += cursor.rowsWritten;
			countUsage("rowsWritten", cursor.rowsWritten);
			countUsage("rowsRead", cursor.rowsRead);
			if (cursor.rowsWritten > 0 && row.state !== EntryState.Merged) this.#catalog?.addEntry(decodeEntry(row.entry));
			if (cursor.rowsWritten > 0 && this.#open) {
				if (row.state === EntryState.Open) this.#open.set(row.traceId, { sortKey: row.sortKey, startMs: row.startMs, endMs: row.endMs });
				else this.#open.delete(row.traceId);
			}
		}
		this.#rowsWritten += written;
		this.#watchLoad(rows.length);
		const known = this.#place?.window;
		return known && place && shardsOf(known) > shardsOf(place.window) ? { rowsWritten: written, window: known } : { rowsWritten: written };
	}

	/** The first write: record where the partition is and set the alarm that deletes it after retention. */
	async #settle(place: PartitionPlace): Promise<void> {
		this.#place = place;
		execCounted(this.#sql, "INSERT INTO meta (key, value) VALUES ('place', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value", JSON.stringify(place));
		await setAlarmCounted(this.ctx.storage, place.window.endMs + loadConfig(this.env).indexRetentionMs);
	}

	/** Counts writes; past a budget, asks the directory for more shards (not awaited by the writer). */
	#watchLoad(writes: number): void {
		const now = Date.now();
		if (now - this.#rateFrom >= RATE_WINDOW_MS) {
			this.#rateFrom = now;
			this.#rateWrites = 0;
		}
		this.#rateWrites += writes;
		this.#load.writes += writes;
		const rate = this.#rateWrites / (RATE_WINDOW_MS / 1000);
		if (rate > this.#load.peakWritesPerS) this.#load.peakWritesPerS = rate;
		if (now - this.#loadSavedAt >= STATS_SAVE_MS) {
			this.#loadSavedAt = now;
			execCounted(this.#sql, "INSERT INTO meta (key, value) VALUES ('load', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value", JSON.stringify(this.#load));
		}
		const place = this.#place;
		if (!place || now - this.#splitAskedAt < SPLIT_COOLDOWN_MS) return;
		const config = loadConfig(this.env);
		const overBytes = this.ctx.storage.sql.databaseSize > config.searchShardMaxBytes;
		if (rate <= config.searchShardMaxWritesPerS && !overBytes) return;
		this.#splitAskedAt = now;
		const shards = shardsOf(place.window);
		this.ctx.waitUntil(
			directoryOf(this.env, place.tenant)
				.split(place.window.startMs, shards)
				.then((window) => {
					if (window && this.#place && shardsOf(window) > shardsOf(this.#place.window)) this.#place = { ...this.#place, window };
				})
				.catch((e: unknown) => console.error(`SearchPartition ${place.tenant}/${place.window.startMs}/${place.shard}: split request failed (asks again after ${SPLIT_COOLDOWN_MS} ms):`, e)),
		);
	}

	/** Retention: the window is old enough, so the partition deletes itself; otherwise waits. */
	override async alarm(): Promise<void> {
		countUsage("alarmsRun");
		const place = this.#place;
		const expiresAt = place ? place.window.endMs + loadConfig(this.env).indexRetentionMs : 0;
		if (place && Date.now() < expiresAt) {
			await setAlarmCounted(this.ctx.storage, expiresAt);
			return;
		}
		// DROP TABLE writes no row (DELETE would count every one); deleteAll() then frees the rest.
		execCounted(this.#sql, "DROP TABLE IF EXISTS traces");
		execCounted(this.#sql, "DROP TABLE IF EXISTS meta");
		countUsage("deleteAlls");
		await this.ctx.storage.deleteAll();
		this.#hasTable = false;
		this.#place = undefined;
		this.#catalog = undefined;
		this.#open = undefined;
		this.#load = { writes: 0, peakWritesPerS: 0 };
	}

	/**
	 * Traces in [startMs, endMs] with a span matching the query, newest first, at most `limit`. Rows
	 * are read in sort-key order (newest first by the trace's first accepted span, the table's own
	 * order, so no sort): a trace's start is never later than its sort key, so once `limit` hits
	 * are in hand and the next row's sort key is older than the limit-th hit's start, no remaining
	 * row can displace one, and the scan stops.
	 */
	async search(request: PartitionSearch): Promise<PartitionResult> {
		countUsage("objectCalls");
		if (!this.#hasTable) return { hits: [], openMisses: [], inspected: 0, exhausted: true };
		const result = this.#search(request);
		// Open entries that did not match may match on spans that came after them; with `{}` every one matched.
		if (request.recheckOpen > 0 && !this.#compiled(request.query).matchesEverything) {
			const hit = new Set(result.hits.map((h) => h.traceId));
			const open = [...this.#openEntries()].filter(([traceId, o]) => !hit.has(traceId) && o.startMs <= request.endMs && o.endMs >= request.startMs);
			open.sort(([a, x], [b, y]) => (x.sortKey < y.sortKey ? 1 : x.sortKey > y.sortKey ? -1 : a < b ? 1 : -1));
			result.openMisses = open.slice(0, request.recheckOpen).map(([traceId]) => ({ traceId, version: 0 }));
		}
		return result;
	}

	/**
	 * The open entries (written at a first span, not yet replaced by a finalization), in memory: few
	 * at any time, and finding them in the table would scan the hour. Rebuilt from the rows once.
	 */
	#openEntries(): Map<string, OpenEntry> {
		if (!this.#open) {
			this.#open = new Map();
			const rows = this.#sql.exec<{ trace_id: string; sort_key: string; start_ms: number; end_ms: number }>("SELECT trace_id, sort_key, start_ms, end_ms FROM traces WHERE state = 0");
			for (const row of rows) this.#open.set(row.trace_id, { sortKey: row.sort_key, startMs: row.start_ms, endMs: row.end_ms });
			countUsage("rowsRead", rows.rowsRead);
		}
		return this.#open;
	}

	#search(request: PartitionSearch): PartitionResult {
		const compiled = this.#compiled(request.query);
		const { sql, params } = compiled.prefilter;
		const n = params.length;
		const rows = this.#sql.exec<{ sort_key: string; start_key: string; version: number; entry: ArrayBuffer }>(
			`SELECT sort_key, start_key, version, entry FROM traces WHERE state < 2 AND start_ms <= ?${n + 1} AND end_ms >= ?${n + 2} AND ${sql} ORDER BY sort_key DESC, trace_id DESC`,
			...params,
			request.endMs,
			request.startMs,
		);
		const hits = new Map<string, SearchHit>();
		let inspected = 0;
		let kth: string | undefined;
		for (const row of rows) {
			if (kth !== undefined && row.sort_key < kth) {
				countUsage("rowsRead", rows.rowsRead);
				return { hits: newest([...hits.values()], request.limit), openMisses: [], inspected, exhausted: false };
			}
			inspected++;
			const entry = decodeEntry(row.entry);
			const match = compiled.match(entry, request.spss);
			if (!match) continue;
			const known = hits.get(entry.traceId);
			// Two rows of one trace only when its object forgot it and reopened it: the newer one counts.
			if (known && known.version >= row.version) continue;
			hits.set(entry.traceId, hitOf(entry, match, row.version));
			if (hits.size >= request.limit) kth = newest([...hits.values()], request.limit).at(-1)!.startKey;
		}
		countUsage("rowsRead", rows.rowsRead);
		return { hits: newest([...hits.values()], request.limit), openMisses: [], inspected, exhausted: true };
	}

	async tagNames(): Promise<TagNames> {
		countUsage("objectCalls");
		const catalog = this.#tagCatalog();
		return { resource: catalog.keys("r"), span: catalog.keys("s") };
	}

	/**
	 * Values of one tag. With `where` (the rest of the query Grafana's builder is editing), only
	 * values on spans matching it, from the newest entries that pass (at most NARROW_MAX_TRACES).
	 */
	async tagValues(target: TagTarget, where?: PartitionWhere): Promise<PartitionTagValue[]> {
		countUsage("objectCalls");
		if (where) return this.#tagValuesWhere(target, where);
		const catalog = this.#tagCatalog();
		switch (target.kind) {
			case "attribute": {
				if (target.scope === "any") return [...catalog.values("r", target.key), ...catalog.values("s", target.key)];
				return catalog.values(target.scope === "resource" ? "r" : "s", target.key);
			}
			case "name":
				return catalog.values("n", "");
			case "rootName":
				return catalog.values("R", "");
			case "rootServiceName":
				return catalog.values("S", "");
			case "statusMessage":
				return this.#statusMessages();
		}
	}

	#tagValuesWhere(target: TagTarget, where: PartitionWhere): PartitionTagValue[] {
		if (!this.#hasTable) return [];
		const compiled = this.#compiled(where.query);
		const { sql, params } = compiled.prefilter;
		const n = params.length;
		const rows = this.#sql.exec<{ entry: ArrayBuffer }>(
			`SELECT entry FROM traces WHERE state < 2 AND start_ms <= ?${n + 1} AND end_ms >= ?${n + 2} AND ${sql} ORDER BY sort_key DESC, trace_id DESC LIMIT ?${n + 3}`,
			...params,
			where.endMs,
			where.startMs,
			NARROW_MAX_TRACES,
		);
		const seen = new Map<string, PartitionTagValue>();
		const add = (type: ValueType, value: string | number | boolean) => {
			const key = `${type}:${String(value)}`;
			if (seen.size < CATALOG_MAX_VALUES && !seen.has(key)) seen.set(key, { type: TYPE_NAMES[type], value: String(value) });
		};
		for (const row of rows) {
			const entry = decodeEntry(row.entry);
			for (const span of entry.spans) {
				if (!compiled.spanMatches(entry, span)) continue;
				switch (target.kind) {
					case "name":
						add("s", span[1]);
						break;
					case "statusMessage":
						if (span[8]) add("s", span[8]);
						break;
					case "rootName":
						if (entry.rootName !== undefined) add("s", entry.rootName);
						break;
					case "rootServiceName":
						if (entry.rootServiceName !== undefined) add("s", entry.rootServiceName);
						break;
					case "attribute": {
						const indexes = [...(target.scope !== "resource" ? span[7] : []), ...(target.scope !== "span" ? (entry.resources[span[6]] ?? []) : [])];
						for (const index of indexes) {
							const [key, type, value] = entry.values[index]!;
							if (key === target.key) add(type, value);
						}
					}
				}
			}
		}
		countUsage("rowsRead", rows.rowsRead);
		return [...seen.values()];
	}

	/** The partition's load and size (the directory sizes the next window from it; /api/status/index shows it). */
	async stats(): Promise<PartitionStats> {
		countUsage("objectCalls");
		if (!this.#hasTable) return { rowsWritten: 0, rows: 0, writes: 0, bytes: 0, peakWritesPerS: 0 };
		const rows = selectCounted<{ n: number }>(this.#sql, "SELECT count(*) AS n FROM traces")[0]!.n;
		return { rowsWritten: this.#rowsWritten, rows, writes: this.#load.writes, bytes: this.ctx.storage.sql.databaseSize, peakWritesPerS: this.#load.peakWritesPerS };
	}

	#compiled(text: string): CompiledQuery {
		let compiled = this.#queries.get(text);
		if (!compiled) {
			const parsed = parseTraceQL(text);
			// The router parsed it already; a failure here means the two disagree.
			if (!parsed.ok) throw parsed.error;
			compiled = compileQuery(parsed.query);
			if (this.#queries.size > 64) this.#queries.clear();
			this.#queries.set(text, compiled);
		}
		return compiled;
	}

	#tagCatalog(): TagCatalog {
		if (!this.#catalog) {
			const catalog = new TagCatalog();
			if (this.#hasTable) for (const row of selectCounted<{ entry: ArrayBuffer }>(this.#sql, "SELECT entry FROM traces WHERE state < 2")) catalog.addEntry(decodeEntry(row.entry));
			this.#catalog = catalog;
		}
		return this.#catalog;
	}

	/** Status messages are not in the catalog (they are rare); read them from the entries when asked. */
	#statusMessages(): PartitionTagValue[] {
		const seen = new Set<string>();
		if (!this.#hasTable) return [];
		for (const row of selectCounted<{ entry: ArrayBuffer }>(this.#sql, "SELECT entry FROM traces WHERE state < 2 AND error = 1 LIMIT 1000")) {
			const entry = decodeEntry(row.entry);
			for (const span of entry.spans) if (span[8]) seen.add(span[8]);
			if (seen.size >= CATALOG_MAX_VALUES) break;
		}
		return [...seen].map((value) => ({ type: "string", value }));
	}
}
