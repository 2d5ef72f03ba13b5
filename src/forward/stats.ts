// Forwarding counters, per tenant: per destination traces and spans sent, retried, dead-lettered
// (and spans a destination rejected in a partial success); per rule traces kept and dropped.
// They live in a few small objects per tenant (STATS_SHARDS, summed on read, so the busiest tenant
// is not bound to one object's ~1,000 requests/s), one row per counter: an increment is an RPC
// that adds to memory, and the object writes the changed counters once a second (an alarm), so the
// rows written follow the number of counters, not the number of traces or spans. A crash loses at
// most the last second's increments of a counter; the decisions themselves are durable in each
// trace (decision.ts).
import { DurableObject } from "cloudflare:workers";
import type { Env } from "../env";
import { countUsage, enableUsageCounting, execCounted, selectCounted, setAlarmCounted } from "../metering/usage";

export const STATS_SHARDS = 4;
const FLUSH_MS = 1_000;

export type Counters = Record<string, number>;

export class ForwardStats extends DurableObject<Env> {
	readonly #pending = new Map<string, number>();
	#flushSet = false;

	constructor(ctx: DurableObjectState, env: Env) {
		super(ctx, env);
		enableUsageCounting(env);
		execCounted(ctx.storage.sql, "CREATE TABLE IF NOT EXISTS counters (key TEXT PRIMARY KEY, value INTEGER NOT NULL)");
	}

	async add(deltas: Counters): Promise<void> {
		countUsage("objectCalls");
		for (const [key, value] of Object.entries(deltas)) if (value) this.#pending.set(key, (this.#pending.get(key) ?? 0) + value);
		if (!this.#flushSet && this.#pending.size > 0) {
			this.#flushSet = true;
			await setAlarmCounted(this.ctx.storage, Date.now() + FLUSH_MS);
		}
	}

	async read(): Promise<Counters> {
		countUsage("objectCalls");
		const totals: Counters = {};
		for (const row of selectCounted<{ key: string; value: number }>(this.ctx.storage.sql, "SELECT key, value FROM counters")) totals[row.key] = row.value;
		for (const [key, value] of this.#pending) totals[key] = (totals[key] ?? 0) + value;
		return totals;
	}

	override async alarm(): Promise<void> {
		countUsage("alarmsRun");
		this.#flushSet = false;
		for (const [key, value] of this.#pending) {
			execCounted(this.ctx.storage.sql, "INSERT INTO counters (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = value + excluded.value", key, value);
		}
		this.#pending.clear();
	}
}

/** Adds to the tenant's counters; never throws (counters must not fail a finalization or a delivery). */
export async function addCounters(env: Env, tenant: string, shardHint: string, deltas: Counters): Promise<void> {
	if (!env.FORWARD_STATS || Object.keys(deltas).length === 0) return;
	try {
		await env.FORWARD_STATS.getByName(shardName(tenant, shardOf(shardHint))).add(deltas);
	} catch (e) {
		console.error(`ForwardStats ${tenant || "(default tenant)"}: counters not added (${JSON.stringify(deltas)}):`, e);
	}
}

/** Every counter of the tenant, summed over its shards. */
export async function readCounters(env: Env, tenant: string): Promise<Counters> {
	if (!env.FORWARD_STATS) return {};
	const shards = await Promise.all(Array.from({ length: STATS_SHARDS }, (_, i) => env.FORWARD_STATS!.getByName(shardName(tenant, i)).read()));
	const totals: Counters = {};
	for (const shard of shards) for (const [key, value] of Object.entries(shard)) totals[key] = (totals[key] ?? 0) + value;
	return totals;
}

function shardName(tenant: string, shard: number): string {
	return `forward-stats/${tenant}/${shard}`;
}

function shardOf(hint: string): number {
	let h = 0;
	for (let i = 0; i < hint.length; i++) h = (h * 31 + hint.charCodeAt(i)) >>> 0;
	return h % STATS_SHARDS;
}

/** Counter keys: `rule/<name>/kept`, `destination/<name>/sent.traces`, ... */
export const ruleCounter = (rule: string, kept: boolean) => `rule/${rule}/${kept ? "kept" : "dropped"}`;
export const destinationCounter = (destination: string, what: "sent" | "retried" | "deadLettered", unit: "traces" | "spans") => `destination/${destination}/${what}.${unit}`;
export const rejectedCounter = (destination: string) => `destination/${destination}/rejected.spans`;
