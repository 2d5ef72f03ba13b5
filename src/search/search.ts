// A search over a tenant's index: the partitions (hours × shards) that the time range covers are
// queried newest first, a few at a time in parallel, until `limit` traces are found. Nothing is
// listed in R2; each partition scans only its own hour.
import type { Env } from "../env";
import { FANOUT_CONCURRENCY, hoursFor, PARTITION_MS, partitionName, SEARCH_SHARDS } from "./partitions";
import type { PartitionTagValue, SearchPartition, TagNames, TagTarget } from "./partition";
import { hitOf, type SearchHit } from "./hits";
import type { TraceEntry } from "./entry";
import { compileQuery } from "../traceql/match";
import { parseTraceQL } from "../traceql/parse";
import { objectName } from "../trace-address";

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

/**
 * Open traces whose objects a search asks about what arrived after the batch that opened them
 * (their index entry holds only that batch until finalization): the newest few per search, so a
 * search costs at most this many extra object calls.
 */
export const OPEN_RECHECK = 16;

export async function searchTraces(env: Env, request: SearchRequest): Promise<SearchOutcome> {
	const hours = hoursFor(request.startMs, request.endMs);
	const names = hours.flatMap((hour) => shards().map((shard) => ({ hour, name: partitionName(request.tenant, hour, shard) })));
	const byTrace = new Map<string, SearchHit>();
	const rechecked = new Set<string>();
	let inspectedTraces = 0;
	let visited = 0;
	for (let i = 0; i < names.length; i += FANOUT_CONCURRENCY) {
		const wave = names.slice(i, i + FANOUT_CONCURRENCY);
		const results = await Promise.all(
			wave.map(({ name }) =>
				env.SEARCH_PARTITION.getByName(name).search({ query: request.query, startMs: request.startMs, endMs: request.endMs, limit: request.limit, spss: request.spss, recheckOpen: OPEN_RECHECK - rechecked.size }),
			),
		);
		visited += wave.length;
		for (const result of results) {
			inspectedTraces += result.inspected;
			for (const miss of result.openMisses) if (rechecked.size < OPEN_RECHECK) rechecked.add(miss.traceId);
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
	for (const hit of await recheckOpen(env, request, [...rechecked].filter((id) => !byTrace.has(id)))) byTrace.set(hit.traceId, hit);
	return { hits: sortHits([...byTrace.values()]).slice(0, request.limit), inspectedTraces, partitions: visited };
}

/** Matches open traces against every span that arrived so far, asking their objects (nothing is written). */
async function recheckOpen(env: Env, request: SearchRequest, traceIds: string[]): Promise<SearchHit[]> {
	if (traceIds.length === 0) return [];
	const parsed = parseTraceQL(request.query);
	if (!parsed.ok) return [];
	const compiled = compileQuery(parsed.query);
	const hits: SearchHit[] = [];
	for (let i = 0; i < traceIds.length; i += FANOUT_CONCURRENCY) {
		await Promise.all(
			traceIds.slice(i, i + FANOUT_CONCURRENCY).map(async (traceId) => {
				const address = { tenant: request.tenant, traceId };
				let entry: TraceEntry | undefined;
				try {
					// RPC typing widens tuples to arrays; the value is the TraceEntry the object built.
					entry = (await env.TRACE_ASSEMBLER.getByName(objectName(address)).searchEntry(address)) as TraceEntry | undefined;
				} catch (e) {
					// The index entry already answered for this trace; a failed look at its object only means less recall.
					console.warn(`search: open trace ${traceId} could not be re-checked:`, e);
				}
				if (!entry) return;
				const startMs = Number(BigInt(entry.startNs) / 1_000_000n);
				const endMs = Number(BigInt(entry.endNs) / 1_000_000n);
				if (startMs > request.endMs || endMs < request.startMs) return;
				const match = compiled.match(entry, request.spss);
				if (match) hits.push(hitOf(entry, match, 0));
			}),
		);
	}
	return hits;
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
export async function searchTagValues(env: Env, tenant: string, target: TagTarget, startMs: number, endMs: number, limit: number, query?: string): Promise<PartitionTagValue[]> {
	const where = query === undefined ? undefined : { query, startMs, endMs };
	const results = await fanOutAll(env, tenant, startMs, endMs, (stub) => stub.tagValues(target, where));
	const seen = new Map<string, PartitionTagValue>();
	for (const values of results) {
		for (const value of values) {
			const key = `${value.type}:${value.value}`;
			if (!seen.has(key)) seen.set(key, value);
		}
	}
	return [...seen.values()].sort((a, b) => (a.value < b.value ? -1 : a.value > b.value ? 1 : 0)).slice(0, limit);
}

/** Calls every partition of the tenant's range (bounded concurrency); search's tag lists and TraceQL metrics share it. */
export async function fanOutAll<T>(env: Env, tenant: string, startMs: number, endMs: number, call: (stub: DurableObjectStub<SearchPartition>) => Promise<T>): Promise<T[]> {
	const names = hoursFor(startMs, endMs).flatMap((hour) => shards().map((shard) => partitionName(tenant, hour, shard)));
	const out: T[] = [];
	for (let i = 0; i < names.length; i += FANOUT_CONCURRENCY) {
		out.push(...(await Promise.all(names.slice(i, i + FANOUT_CONCURRENCY).map((name) => call(env.SEARCH_PARTITION.getByName(name))))));
	}
	return out;
}
