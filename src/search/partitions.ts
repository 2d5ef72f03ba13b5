// Which index partition holds a trace, and which partitions a search visits. A partition is one
// Durable Object per tenant × time window × shard: the tenant is in its name (like trace objects
// and R2 keys), the window is that of the first span the trace's object accepted, and the shard
// comes from the trace id and the window's shard count. How many shards a window has is state,
// not a constant: the tenant's directory (directory.ts) chooses it when the window opens, from what
// the tenant's previous windows wrote, and raises it when a partition passes its budget mid-window.
// A window's shard count only ever grows, and it is recorded as a history of (from, shards) steps:
// a trace is filed by the step in force at its sort key's time, so the same trace always maps to
// the same shard, and a search visits shards 0 .. (last step's count − 1) of each window — every
// shard any trace of that window can be in.

/** A search may cover at most this much time (Tempo's default search limit is also 168 hours). */
export const MAX_SEARCH_RANGE_MS = 168 * 3_600_000;
/** Partitions queried at once: bounds a search's concurrent subrequests. */
export const FANOUT_CONCURRENCY = 16;
/**
 * Partition calls one search, tag or status request may make: under the 1,000 subrequests a Workers
 * Paid invocation has by default, with room for the directory and the open-trace re-checks.
 */
export const MAX_PARTITION_CALLS = 900;
/** A window never has more shards than this (a 1M spans/s tenant needs about 125 at 250 writes/s). */
export const MAX_SHARDS = 1_024;

/** One step of a window's shard history: from `fromMs` (a sort-key time) on, `shards` shards. */
export interface ShardStep {
	fromMs: number;
	shards: number;
}

/** A window as the directory records it. */
export interface IndexWindow {
	startMs: number;
	endMs: number;
	/** Non-decreasing shard counts, the first from `startMs`. */
	steps: ShardStep[];
}

/**
 * How long after a split its step takes effect, and how long a writer may trust its copy of a
 * window: a split at T adds a step from T + this, so a writer whose copy predates the split (and so
 * expires before T + this) never files a trace that the new step covers — spans start before they
 * arrive — and every writer, stale or fresh, restarted or not, puts a trace in the same shard.
 * Readers trust their copy for less than this, so none misses a new shard.
 */
export function splitDelayMs(widthMs: number): number {
	return Math.min(10_000, Math.floor(widthMs / 8));
}

export function windowStartOf(timeMs: number, widthMs: number): number {
	return Math.floor(timeMs / widthMs) * widthMs;
}

/** The shard count a window has now (readers visit this many). */
export function shardsOf(window: IndexWindow): number {
	return window.steps.at(-1)?.shards ?? 1;
}

/** The shard of a trace whose sort key is at `atMs`, by the step in force then. */
export function shardFor(window: IndexWindow, traceId: string, atMs: number): number {
	let shards = window.steps[0]?.shards ?? 1;
	for (const step of window.steps) if (step.fromMs <= atMs) shards = step.shards;
	return shards === 1 ? 0 : parseInt(traceId.slice(-6), 16) % shards;
}

/** The object name of a partition: `index/<tenant>/<window start ms>/<shard>`. */
export function partitionName(tenant: string, windowStartMs: number, shard: number): string {
	return `index/${tenant}/${windowStartMs}/${shard}`;
}

/**
 * Where a span's start files a trace: a span without a start time, one more than a window in the
 * future, or one older than the index keeps (its window would already be gone) is filed under its
 * arrival. A trace's sort key is thus never earlier than its start, which the searches rely on.
 */
export function placedStartNs(startNs: bigint, nowMs: number, widthMs: number, retentionMs: number): bigint {
	const tooOld = BigInt(nowMs - retentionMs + widthMs) * 1_000_000n;
	return startNs > 0n && startNs >= tooOld && startNs <= BigInt(nowMs + widthMs) * 1_000_000n ? startNs : BigInt(nowMs) * 1_000_000n;
}

/**
 * The earliest time a search or tag request still looks at: windows that ended before it are gone
 * (INDEX_RETENTION_MS), so a request over an older range wakes no object at all.
 */
export function retainedFromMs(nowMs: number, retentionMs: number): number {
	return nowMs - retentionMs;
}
