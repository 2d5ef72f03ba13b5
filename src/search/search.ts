// A search over a tenant's index: the partitions (hours × shards) that the time range covers are
// queried newest first, a few at a time in parallel, until `limit` traces are found. Nothing is
// listed in R2; each partition scans only its own hour.
import type { Env } from "../env";
import { FANOUT_CONCURRENCY, hoursFor, PARTITION_MS, partitionName, SEARCH_SHARDS } from "./partitions";
import type { PartitionTagValue, SearchHit, TagNames, TagTarget } from "./partition";

export interface SearchRequest {
	tenant: string;
	/** TraceQL, already validated by the caller. */
	query: string;
	startMs: number;
	endMs: number;
	limit: number;
	spss: number;
}

export interface SearchOutcome {
	hits: SearchHit[];
	inspectedTraces: number;
	partitions: number;
}

export async function searchTraces(env: Env, request: SearchRequest): Promise<SearchOutcome> {
	const hours = hoursFor(request.startMs, request.endMs);
	const names = hours.flatMap((hour) => shards().map((shard) => ({ hour, name: partitionName(request.tenant, hour, shard) })));
	const byTrace = new Map<string, SearchHit>();
	let inspectedTraces = 0;
	let visited = 0;
	for (let i = 0; i < names.length; i += FANOUT_CONCURRENCY) {
		const wave = names.slice(i, i + FANOUT_CONCURRENCY);
		const results = await Promise.all(
			wave.map(({ name }) =>
				env.SEARCH_PARTITION.getByName(name).search({ query: request.query, startMs: request.startMs, endMs: request.endMs, limit: request.limit, spss: request.spss }),
			),
		);
		visited += wave.length;
		for (const result of results) {
			inspectedTraces += result.inspected;
			for (const hit of result.hits) {
				// A trace is in one partition, except one whose object forgot it (after RETENTION_MS) and
				// was reopened under another hour: the newer entry wins, and nothing is listed twice.
				const known = byTrace.get(hit.traceId);
				if (!known || hit.version > known.version) byTrace.set(hit.traceId, hit as SearchHit);
			}
		}
		const sorted = sortHits([...byTrace.values()]);
		const next = names[i + FANOUT_CONCURRENCY];
		if (sorted.length >= request.limit && next) {
			// Every trace in an older partition started before that partition's hour ended: once the
			// limit-th newest found so far started later, nothing older can displace it.
			const boundaryNs = BigInt(next.hour + 1) * BigInt(PARTITION_MS) * 1_000_000n;
			if (BigInt(sorted[request.limit - 1]!.startNs) >= boundaryNs) break;
		}
	}
	return { hits: sortHits([...byTrace.values()]).slice(0, request.limit), inspectedTraces, partitions: visited };
}

function sortHits(hits: SearchHit[]): SearchHit[] {
	return hits.sort((a, b) => (a.startKey < b.startKey ? 1 : a.startKey > b.startKey ? -1 : a.traceId < b.traceId ? 1 : -1));
}

function shards(): number[] {
	return Array.from({ length: SEARCH_SHARDS }, (_, i) => i);
}

/** Tag names of the tenant's partitions in the range. */
export async function searchTagNames(env: Env, tenant: string, startMs: number, endMs: number): Promise<TagNames> {
	const results = await fanOutAll(env, tenant, startMs, endMs, (stub) => stub.tagNames());
	const resource = new Set<string>();
	const span = new Set<string>();
	for (const result of results) {
		result.resource.forEach((k) => resource.add(k));
		result.span.forEach((k) => span.add(k));
	}
	return { resource: [...resource].sort(), span: [...span].sort() };
}

/** Distinct values of one tag in the tenant's partitions in the range, at most `limit`. */
export async function searchTagValues(env: Env, tenant: string, target: TagTarget, startMs: number, endMs: number, limit: number): Promise<PartitionTagValue[]> {
	const results = await fanOutAll(env, tenant, startMs, endMs, (stub) => stub.tagValues(target));
	const seen = new Map<string, PartitionTagValue>();
	for (const values of results) {
		for (const value of values) {
			const key = `${value.type}:${value.value}`;
			if (!seen.has(key)) seen.set(key, value);
		}
	}
	return [...seen.values()].sort((a, b) => (a.value < b.value ? -1 : a.value > b.value ? 1 : 0)).slice(0, limit);
}

async function fanOutAll<T>(env: Env, tenant: string, startMs: number, endMs: number, call: (stub: DurableObjectStub<import("./partition").SearchPartition>) => Promise<T>): Promise<T[]> {
	const names = hoursFor(startMs, endMs).flatMap((hour) => shards().map((shard) => partitionName(tenant, hour, shard)));
	const out: T[] = [];
	for (let i = 0; i < names.length; i += FANOUT_CONCURRENCY) {
		out.push(...(await Promise.all(names.slice(i, i + FANOUT_CONCURRENCY).map((name) => call(env.SEARCH_PARTITION.getByName(name))))));
	}
	return out;
}
