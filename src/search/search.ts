// A search over a tenant's index: the tenant's directory names the windows the time range covers
// and each one's shard count (every shard any of its traces can be in: counts only grow); the
// windows are queried newest first, all shards of a window in parallel, until `limit` traces are
// found. Nothing is listed in R2; each partition scans only its own rows. A partition or directory
// that does not answer makes the whole request fail with IndexUnavailableError (503 at the edge):
// an answer from part of the index would silently miss traces.
import { loadConfig } from "../config";
import type { Env } from "../env";
import { IndexRangeTooWideError, indexCall } from "./errors";
import { FANOUT_CONCURRENCY, MAX_PARTITION_CALLS, partitionName, retainedFromMs, shardsOf, type IndexWindow } from "./partitions";
import { windowsForRead } from "./shard-cache";
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
	// Searches stop early (newest first), so the partition-call budget is checked as windows are
	// visited, not for the whole range up front as tag requests (which read every window) do.
	const windows = await indexWindows(env, request.tenant, request.startMs, request.endMs, false);
	const byTrace = new Map<string, SearchHit>();
	const rechecked = new Set<string>();
	let inspectedTraces = 0;
	let visited = 0;
	for (const [i, window] of windows.entries()) {
		const names = shardNames(request.tenant, window);
		if (visited + names.length > MAX_PARTITION_CALLS) throw tooWide(visited + names.length);
		const results = await fanOut(names, (name) =>
			env.SEARCH_PARTITION.getByName(name).search({ query: request.query, startMs: request.startMs, endMs: request.endMs, limit: request.limit, spss: request.spss, recheckOpen: OPEN_RECHECK - rechecked.size }),
		);
		visited += names.length;
		for (const result of results) {
			inspectedTraces += result.inspected;
			for (const miss of result.openMisses) if (rechecked.size < OPEN_RECHECK) rechecked.add(miss.traceId);
			for (const hit of result.hits) {
				// A trace is in one partition, except one whose object forgot it (after RETENTION_MS) and
				// was reopened under another window: the newer entry wins, and nothing is listed twice.
				const known = byTrace.get(hit.traceId);
				if (!known || hit.version > known.version) byTrace.set(hit.traceId, hit as SearchHit);
			}
		}
		const rest = windows.slice(i + 1);
		const sorted = sortHits([...byTrace.values()]);
		if (sorted.length >= request.limit && rest.length > 0) {
			// Every trace in an older window started before that window ended: once the limit-th newest
			// found so far started later than every remaining window's end, nothing there can displace it.
			const boundaryNs = BigInt(Math.max(...rest.map((w) => w.endMs))) * 1_000_000n;
			if (BigInt(sorted[request.limit - 1]!.startNs) >= boundaryNs) break;
		}
	}
	for (const hit of await recheckOpen(env, request, [...rechecked].filter((id) => !byTrace.has(id)))) byTrace.set(hit.traceId, hit);
	return { hits: sortHits([...byTrace.values()]).slice(0, request.limit), inspectedTraces, partitions: visited };
}

/**
 * The windows a request over [startMs, endMs] visits, newest first: those the range overlaps, and
 * the window before (a trace is filed under its first accepted span, never before its start, so one
 * that began earlier and ran into the range may sit a window earlier), minus what retention
 * removed. A range wholly past retention asks nothing of anyone; more partitions than one
 * invocation may call (MAX_PARTITION_CALLS) is the request's to narrow (IndexRangeTooWideError: 400).
 */
export async function indexWindows(env: Env, tenant: string, startMs: number, endMs: number, checkBudget = true): Promise<IndexWindow[]> {
	const config = loadConfig(env);
	const retainedFrom = retainedFromMs(Date.now(), config.indexRetentionMs);
	if (endMs < retainedFrom) return [];
	const windows = await windowsForRead(env, tenant, Math.max(startMs - config.searchPartitionMs, retainedFrom), endMs);
	const calls = windows.reduce((sum, w) => sum + shardsOf(w), 0);
	if (checkBudget && calls > MAX_PARTITION_CALLS) throw tooWide(calls);
	return windows;
}

function tooWide(calls: number): IndexRangeTooWideError {
	return new IndexRangeTooWideError(`the range holds at least ${calls} index partitions of this tenant; one request reads at most ${MAX_PARTITION_CALLS}: search a shorter range`);
}

function shardNames(tenant: string, window: IndexWindow): string[] {
	return Array.from({ length: shardsOf(window) }, (_, shard) => partitionName(tenant, window.startMs, shard));
}

/** Calls every partition in `names`, FANOUT_CONCURRENCY at a time; any failure fails the whole (503). */
async function fanOut<T>(names: string[], call: (name: string) => Promise<T>): Promise<T[]> {
	const out: T[] = [];
	for (let i = 0; i < names.length; i += FANOUT_CONCURRENCY) {
		out.push(...(await Promise.all(names.slice(i, i + FANOUT_CONCURRENCY).map((name) => indexCall(`partition ${name}`, () => call(name))))));
	}
	return out;
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
	const windows = await indexWindows(env, tenant, startMs, endMs);
	return fanOut(windows.flatMap((window) => shardNames(tenant, window)), (name) => call(env.SEARCH_PARTITION.getByName(name)));
}

/** One window of the tenant's index as GET /api/status/index shows it. */
export interface WindowStatus {
	start: number;
	shards: number;
	entries: number;
	bytes: number;
}

/** The tenant's windows in the range, newest first, with their entries and bytes (every shard asked). */
export async function indexStatus(env: Env, tenant: string, startMs: number, endMs: number): Promise<{ windows: WindowStatus[]; unindexed: number; unindexedTraceIds: string[] }> {
	const config = loadConfig(env);
	const retainedFrom = retainedFromMs(Date.now(), config.indexRetentionMs);
	if (endMs < retainedFrom) return { windows: [], unindexed: 0, unindexedTraceIds: [] };
	const windows = (await windowsForRead(env, tenant, Math.max(startMs, retainedFrom), endMs)).filter((w) => w.startMs <= endMs);
	const calls = windows.reduce((sum, w) => sum + shardsOf(w), 0);
	if (calls > MAX_PARTITION_CALLS) throw tooWide(calls);
	const out: WindowStatus[] = [];
	for (const window of windows) {
		const stats = await fanOut(shardNames(tenant, window), (name) => env.SEARCH_PARTITION.getByName(name).stats());
		out.push({ start: window.startMs, shards: shardsOf(window), entries: stats.reduce((n, s) => n + s.rows, 0), bytes: stats.reduce((n, s) => n + s.bytes, 0) });
	}
	const unindexed = await indexCall(`directory of tenant "${tenant}"`, () => env.INDEX_DIRECTORY.getByName(`directory/${tenant}`).unindexedIn(startMs, endMs));
	return { windows: out, unindexed: unindexed.count, unindexedTraceIds: unindexed.traceIds };
}
