// What the bench-only Workers (search-worker.ts, metrics-worker.ts) share: reproducible ids, and
// seeding finalized traces' entries straight into the index partitions through the same entry
// builder, partition choice and partition `put` that a trace's object uses after finalization.
import type { Env } from "../../src/env";
import { loadConfig } from "../../src/config";
import { buildEntry } from "../../src/search/entry";
import { EntryState, rowOf, sortKeyOf, type IndexRow } from "../../src/search/row";
import { partitionOf, windowForWrite } from "../../src/search/shard-cache";

export const hex = (n: bigint, digits: number) => n.toString(16).padStart(digits, "0");

/** A well-mixed 64-bit value of i (splitmix64), so ids look random and are reproducible. */
export function mix(i: bigint): bigint {
	let z = (i + 0x9e3779b97f4a7c15n) & 0xffffffffffffffffn;
	z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & 0xffffffffffffffffn;
	z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & 0xffffffffffffffffn;
	return z ^ (z >> 31n);
}

export interface SeedTrace {
	traceId: string;
	startMs: number;
	/** The trace as an OTLP TracesData. */
	bytes: Uint8Array;
}

/** Writes the finalized entries of `traces` (one `put` per partition); the index rows written. */
export async function seedIndex(env: Env, tenant: string, traces: Iterable<SeedTrace>): Promise<number> {
	const byPartition = new Map<string, IndexRow[]>();
	const now = Date.now();
	const width = loadConfig(env).searchPartitionMs;
	for (const trace of traces) {
		const name = await partitionOf(env, tenant, trace.traceId, trace.startMs, width);
		let rows = byPartition.get(name);
		if (!rows) byPartition.set(name, (rows = []));
		rows.push(rowOf(buildEntry(trace.traceId, trace.bytes), EntryState.Final, now, sortKeyOf(BigInt(trace.startMs) * 1_000_000n)));
	}
	let written = 0;
	for (const [name, rows] of byPartition) {
		const [, , start, shard] = name.split("/");
		const window = await windowForWrite(env, tenant, Number(start), width);
		written += (await env.SEARCH_PARTITION.getByName(name).put(rows, { tenant, window, shard: Number(shard) })).rowsWritten;
	}
	return written;
}

/** Seed traces `from` … `from + count - 1` made by `make(i)`. */
export function* range<T>(from: number, count: number, make: (i: number) => T): Generator<T> {
	for (let i = from; i < from + count; i++) yield make(i);
}
