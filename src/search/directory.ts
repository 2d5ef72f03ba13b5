// A tenant's index directory: one Durable Object per tenant (`directory/<tenant>`) recording, for
// each time window of the tenant's index, how many shards it has — the state that every writer
// and every search, tag and status request reads, so it is never a constant and never guessed.
// A window's shard count is chosen when the window opens (its first writer asks), from what the
// tenant's previous window wrote (its peak entries per second and bytes, read from its partitions),
// and raised mid-window when a partition passes its budget. It also counts the tenant's unindexed
// traces (index writes given up after INDEX_RETRY_MS). One row per window, one per unindexed
// trace; callers cache what it answers (shard-cache.ts), so it takes a few requests per second.
import { DurableObject } from "cloudflare:workers";
import { loadConfig } from "../config";
import type { Env } from "../env";
import { countUsage, enableUsageCounting, execCounted, selectCounted } from "../metering/usage";
import { MAX_SHARDS, partitionName, shardsOf, splitDelayMs, windowStartOf, type IndexWindow, type ShardStep } from "./partitions";
import type { PartitionStats } from "./partition";

const SCHEMA = [
	`CREATE TABLE IF NOT EXISTS windows (start_ms INTEGER PRIMARY KEY, end_ms INTEGER NOT NULL, steps TEXT NOT NULL)`,
	`CREATE TABLE IF NOT EXISTS unindexed (trace_id TEXT PRIMARY KEY, at_ms INTEGER NOT NULL)`,
];

/** A new window gets room for this much more than the previous window's peak. */
const HEADROOM = 1.5;
/** Unindexed trace ids listed by the status endpoint (the count is exact). */
const UNINDEXED_LISTED = 100;

export class IndexDirectory extends DurableObject<Env> {
	readonly #sql: SqlStorage;
	readonly #windows = new Map<number, IndexWindow>();
	/** Windows being opened: concurrent first writers wait for the same choice. */
	readonly #opening = new Map<number, Promise<IndexWindow>>();

	constructor(ctx: DurableObjectState, env: Env) {
		super(ctx, env);
		enableUsageCounting(env);
		this.#sql = ctx.storage.sql;
		for (const statement of SCHEMA) execCounted(this.#sql, statement);
		for (const row of selectCounted<{ start_ms: number; end_ms: number; steps: string }>(this.#sql, "SELECT start_ms, end_ms, steps FROM windows")) {
			this.#windows.set(row.start_ms, { startMs: row.start_ms, endMs: row.end_ms, steps: JSON.parse(row.steps) as ShardStep[] });
		}
	}

	/** The window holding `atMs` for `tenant`, opened (its shard count chosen and recorded) if new. */
	async window(tenant: string, atMs: number): Promise<IndexWindow> {
		countUsage("objectCalls");
		const width = loadConfig(this.env).searchPartitionMs;
		const startMs = windowStartOf(atMs, width);
		const known = this.#windows.get(startMs);
		if (known) return known;
		let opening = this.#opening.get(startMs);
		if (!opening) {
			opening = this.#open(tenant, startMs, startMs + width).finally(() => this.#opening.delete(startMs));
			this.#opening.set(startMs, opening);
		}
		return opening;
	}

	/** The recorded windows that end after `fromMs` and start at or before `toMs`, newest first. */
	async windows(fromMs: number, toMs: number): Promise<IndexWindow[]> {
		countUsage("objectCalls");
		const retainedFrom = Date.now() - loadConfig(this.env).indexRetentionMs;
		return [...this.#windows.values()].filter((w) => w.endMs > Math.max(fromMs, retainedFrom) && w.startMs <= toMs).sort((a, b) => b.startMs - a.startMs);
	}

	/**
	 * A partition of the window passed its budget with `observedShards` shards: double them for
	 * traces whose sort key is after now + splitDelayMs (writers' copies of the window expire by then). A request from a partition that saw an older count changes nothing
	 * (another shard asked first), so a burst that overloads every shard doubles the count once.
	 */
	async split(startMs: number, observedShards: number): Promise<IndexWindow | undefined> {
		countUsage("objectCalls");
		const window = this.#windows.get(startMs);
		if (!window) return undefined;
		const shards = shardsOf(window);
		if (shards !== observedShards || shards >= MAX_SHARDS) return window;
		const fromMs = Date.now() + splitDelayMs(loadConfig(this.env).searchPartitionMs);
		const next: IndexWindow = { ...window, steps: [...window.steps, { fromMs, shards: Math.min(shards * 2, MAX_SHARDS) }] };
		this.#save(next);
		console.warn(`IndexDirectory: window ${startMs} split from ${shards} to ${shardsOf(next)} shards (a partition passed its budget)`);
		return next;
	}

	/** A trace whose index write was given up (INDEX_RETRY_MS): counted once, listed by the status endpoint. */
	async unindexed(traceId: string, atMs: number): Promise<void> {
		countUsage("objectCalls");
		execCounted(this.#sql, "INSERT INTO unindexed (trace_id, at_ms) VALUES (?, ?) ON CONFLICT (trace_id) DO NOTHING", traceId, atMs);
	}

	/** Unindexed traces given up between `fromMs` and `toMs`: the count and the newest ids. */
	async unindexedIn(fromMs: number, toMs: number): Promise<{ count: number; traceIds: string[] }> {
		countUsage("objectCalls");
		const count = selectCounted<{ n: number }>(this.#sql, "SELECT count(*) AS n FROM unindexed WHERE at_ms BETWEEN ? AND ?", fromMs, toMs)[0]!.n;
		const traceIds = selectCounted<{ trace_id: string }>(this.#sql, "SELECT trace_id FROM unindexed WHERE at_ms BETWEEN ? AND ? ORDER BY at_ms DESC LIMIT ?", fromMs, toMs, UNINDEXED_LISTED).map((r) => r.trace_id);
		return { count, traceIds };
	}

	async #open(tenant: string, startMs: number, endMs: number): Promise<IndexWindow> {
		const config = loadConfig(this.env);
		const shards = await this.#shardsForNewWindow(tenant, startMs, config.searchShardMaxWritesPerS, config.searchShardMaxBytes);
		const window: IndexWindow = { startMs, endMs, steps: [{ fromMs: startMs, shards }] };
		// Another request may have opened it meanwhile (the choice above awaited partitions).
		const raced = this.#windows.get(startMs);
		if (raced) return raced;
		this.#save(window);
		this.#forgetExpired(Date.now() - config.indexRetentionMs);
		return window;
	}

	/**
	 * Shards for a new window: enough for the previous window's peak write rate and bytes (summed
	 * over its shards) within the budgets, with headroom; 1 for a tenant's first window. A shard
	 * that does not answer counts at its budget (better one shard too many than an overflow).
	 */
	async #shardsForNewWindow(tenant: string, startMs: number, maxWritesPerS: number, maxBytes: number): Promise<number> {
		const previous = [...this.#windows.values()].filter((w) => w.startMs < startMs).sort((a, b) => b.startMs - a.startMs)[0];
		if (!previous) return 1;
		const count = shardsOf(previous);
		const stats = await Promise.all(
			Array.from({ length: count }, (_, shard) =>
				this.env.SEARCH_PARTITION.getByName(partitionName(tenant, previous.startMs, shard))
					.stats()
					.catch((e: unknown): PartitionStats => {
						console.warn(`IndexDirectory: partition ${partitionName(tenant, previous.startMs, shard)} did not report its load:`, e);
						return { rowsWritten: 0, rows: 0, writes: 0, bytes: maxBytes, peakWritesPerS: maxWritesPerS };
					}),
			),
		);
		const peak = stats.reduce((sum, s) => sum + s.peakWritesPerS, 0);
		const bytes = stats.reduce((sum, s) => sum + s.bytes, 0);
		const needed = Math.max(1, Math.ceil((peak * HEADROOM) / maxWritesPerS), Math.ceil((bytes * HEADROOM) / maxBytes));
		return Math.min(MAX_SHARDS, needed);
	}

	#save(window: IndexWindow): void {
		execCounted(this.#sql, "INSERT INTO windows (start_ms, end_ms, steps) VALUES (?, ?, ?) ON CONFLICT (start_ms) DO UPDATE SET steps = excluded.steps", window.startMs, window.endMs, JSON.stringify(window.steps));
		this.#windows.set(window.startMs, window);
	}

	/** Windows and unindexed records past retention: their partitions delete themselves (partition.ts). */
	#forgetExpired(beforeMs: number): void {
		for (const [start, window] of this.#windows) if (window.endMs < beforeMs) this.#windows.delete(start);
		execCounted(this.#sql, "DELETE FROM windows WHERE end_ms < ?", beforeMs);
		execCounted(this.#sql, "DELETE FROM unindexed WHERE at_ms < ?", beforeMs);
	}
}
