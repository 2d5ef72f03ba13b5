// Which index partition holds a trace, and which partitions a search visits. A partition is one
// Durable Object per tenant, hour and shard: the tenant is in its name (like trace objects and R2
// keys), the hour is that of the first span the trace's object accepted, and the shard comes from
// the trace id, so one busy tenant spreads its writes over SEARCH_SHARDS objects per hour.

/** Width of a time partition. */
export const PARTITION_MS = 3_600_000;
/**
 * Shards per tenant and hour. One object takes about 1,000 requests/s; at two writes per trace one
 * shard indexes a few hundred traces per second. A constant, because a search must know how many
 * shards every past hour had.
 */
export const SEARCH_SHARDS = 1;
/** A search may cover at most this much time (Tempo's default search limit is also 168 hours). */
export const MAX_SEARCH_RANGE_MS = 168 * PARTITION_MS;
/** Partitions queried at once: bounds a search's concurrent subrequests. */
export const FANOUT_CONCURRENCY = 8;

export function partitionHour(timeMs: number): number {
	return Math.floor(timeMs / PARTITION_MS);
}

export function shardOf(traceId: string): number {
	return SEARCH_SHARDS === 1 ? 0 : parseInt(traceId.slice(-6), 16) % SEARCH_SHARDS;
}

/** The object name of a partition: `search/<tenant>/<hour>/<shard>`. */
export function partitionName(tenant: string, hour: number, shard: number): string {
	return `search/${tenant}/${hour}/${shard}`;
}

/** The partition a trace's entry lives in, chosen once, from the first span its object accepted. */
export function partitionFor(tenant: string, traceId: string, firstSpanStartMs: number, nowMs: number): string {
	const at = Number(placedStartNs(BigInt(Math.trunc(firstSpanStartMs)) * 1_000_000n, nowMs) / 1_000_000n);
	return partitionName(tenant, partitionHour(at), shardOf(traceId));
}

/** A span without a start time (or one more than an hour in the future) is filed under its arrival. */
export function placedStartNs(startNs: bigint, nowMs: number): bigint {
	return startNs > 0n && startNs <= BigInt(nowMs + PARTITION_MS) * 1_000_000n ? startNs : BigInt(nowMs) * 1_000_000n;
}

/**
 * The hours a search over [startMs, endMs] visits, newest first. A trace is filed under the hour of
 * its first accepted span, which is never before its start, so a trace that began before `startMs`
 * and still ran into the range may be filed an hour earlier: one more hour is visited.
 */
export function hoursFor(startMs: number, endMs: number): number[] {
	const hours: number[] = [];
	for (let hour = partitionHour(endMs); hour >= partitionHour(startMs) - 1; hour--) hours.push(hour);
	return hours;
}
