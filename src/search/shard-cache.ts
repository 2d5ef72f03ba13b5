// What writers and readers remember of the tenant directories (directory.ts), per isolate. A
// window's shard history only grows, and a split takes effect splitDelayMs after it is recorded
// (partitions.ts): a writer trusts its copy for that long, so a stale copy files a trace exactly
// where a fresh one would; readers trust theirs for less, so they never miss a shard. Writers also
// learn of a split from the partition's reply to their next write.
import { loadConfig } from "../config";
import type { Env } from "../env";
import { indexCall } from "./errors";
import { partitionName, shardFor, shardsOf, splitDelayMs, type IndexWindow } from "./partitions";

/** The longest a reader trusts its copy of a tenant's window list (less if splits take effect sooner). */
const READER_TTL_MS = 1_000;
const MAX_ENTRIES = 1_000;

const writerCache = new Map<string, { window: IndexWindow; at: number }>();
const readerCache = new Map<string, { windows: IndexWindow[]; at: number }>();

export function directoryOf(env: Env, tenant: string) {
	return env.INDEX_DIRECTORY.getByName(`directory/${tenant}`);
}

/** The window of `atMs` for a writer (opened by the directory when new). */
export async function windowForWrite(env: Env, tenant: string, atMs: number, widthMs: number): Promise<IndexWindow> {
	const key = `${tenant}/${Math.floor(atMs / widthMs) * widthMs}`;
	const cached = writerCache.get(key);
	if (cached && Date.now() - cached.at < splitDelayMs(widthMs)) return cached.window;
	const window = await indexCall(`directory of tenant "${tenant}"`, () => directoryOf(env, tenant).window(tenant, atMs));
	remember(writerCache, key, { window, at: Date.now() });
	return window;
}

/** A partition answered a write with the window's current history (after a split): keep the longer one. */
export function learnWindow(tenant: string, window: IndexWindow): void {
	const key = `${tenant}/${window.startMs}`;
	const cached = writerCache.get(key);
	if (!cached || shardsOf(cached.window) < shardsOf(window)) remember(writerCache, key, { window, at: Date.now() });
}

/** The tenant's windows overlapping [fromMs, toMs], newest first, for a search, tag or status request. */
export async function windowsForRead(env: Env, tenant: string, fromMs: number, toMs: number): Promise<IndexWindow[]> {
	const key = `${tenant}|${fromMs}|${toMs}`;
	const cached = readerCache.get(key);
	const ttl = Math.min(READER_TTL_MS, splitDelayMs(loadConfig(env).searchPartitionMs) / 2);
	if (cached && Date.now() - cached.at < ttl) return cached.windows;
	const windows = await indexCall(`directory of tenant "${tenant}"`, () => directoryOf(env, tenant).windows(fromMs, toMs));
	remember(readerCache, key, { windows, at: Date.now() });
	return windows;
}

function remember<T>(cache: Map<string, T>, key: string, value: T): void {
	if (cache.size >= MAX_ENTRIES) cache.clear();
	cache.set(key, value);
}

/** The partition a trace whose sort key is at `atMs` is filed in (tests and the search bench use it). */
export async function partitionOf(env: Env, tenant: string, traceId: string, atMs: number, widthMs: number): Promise<string> {
	const window = await windowForWrite(env, tenant, atMs, widthMs);
	return partitionName(tenant, window.startMs, shardFor(window, traceId, atMs));
}
