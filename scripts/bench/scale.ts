// `npm run bench -- --scale`: how the search index scales out (issue 17). Measures, locally:
//  - bytes per index entry of the standard trace (64 spans exported in 8 parts), by running the
//    index's own entry and row builders on it;
//  - the sustained single-entry writes per second one partition object takes under `wrangler dev`
//    (16 concurrent writers, as trace objects write), and the bytes its database holds per entry;
// then prints, for 1k / 10k / 100k / 1M spans/s of standard traces: shards per window (what the
// directory chooses: peak writes/s and bytes over the budgets, with its 1.5× headroom), writes/s
// and GB per partition object, index GB per day, and $ per million spans with 30 days of storage
// next to the operations bill. Limits: README "Scale" (each with its source page).
import { join, resolve } from "node:path";
import { option } from "../lib/args.ts";
import { startDevServer } from "../lib/dev-server.ts";
import { measureEntrySize, standardTrace } from "../lib/entry-size.ts";

const ROOT = resolve(import.meta.dirname, "../..");
const log = (text: string) => process.stderr.write(`${text}\n`);

/** Budgets and prices the table rests on (defaults of config.ts; scripts/lib/prices.ts and pricing.md). */
const MAX_WRITES_PER_S = 250;
const MAX_BYTES = 1_000_000_000;
const HEADROOM = 1.5;
const WINDOW_S = 3_600;
const RETENTION_DAYS = 30;
const USD_PER_GB_MONTH_DO = 0.2;
const USD_PER_GB_MONTH_R2 = 0.015;
const USD_PER_MILLION_ROWS_WRITTEN = 1.0;
const USD_PER_MILLION_DO_REQUESTS = 0.15;
/** Index writes per trace: the open entry at the first span and the final one (README "Search"). */
const WRITES_PER_TRACE = 2;
const SPANS_PER_TRACE = 64;
/** The whole operations bill per million standard spans, measured by `npm run bench -- --cost` (README "Cost"). */
const OPERATIONS_USD_PER_MILLION = Number(option("ops-usd", "0.348"));
/** An object's documented soft limit and storage limit (README "Scale"). */
const OBJECT_REQUESTS_PER_S = 1_000;
const OBJECT_GB = 10;

export interface ScaleResult {
	markdown: string;
	figures: Record<string, unknown>;
}

export async function scaleBench(): Promise<ScaleResult> {
	const size = measureEntrySize();
	const { trace } = standardTrace();
	log(`scale bench: standard trace row ${size.rowBytes} bytes (${size.rollupBytes} of rollups), entry ${size.jsonBytes} bytes as JSON; measuring one partition's write rate ...`);
	const seconds = Number(option("scale-seconds", "10"));
	const server = await startDevServer({ configs: [join(ROOT, "scripts/bench/search-wrangler.toml")], vars: { AUTH_TOKENS: "bench-token" } });
	let load: { writes: number; seconds: number; writesPerSecond: number; rows: number; bytes: number };
	try {
		const response = await fetch(`${server.url}/bench/partition-load?seconds=${seconds}&concurrency=16`, { method: "POST", body: trace });
		if (response.status !== 200) throw new Error(`partition-load answered ${response.status}: ${await response.text()}`);
		load = (await response.json()) as typeof load;
	} finally {
		await server.stop();
	}
	const storedPerEntry = load.bytes / Math.max(1, load.rows);
	log(`scale bench: ${load.writes} writes in ${load.seconds.toFixed(1)} s = ${load.writesPerSecond.toFixed(0)} writes/s; ${storedPerEntry.toFixed(0)} bytes of database per entry`);
	const rows = [1_000, 10_000, 100_000, 1_000_000].map((spansPerS) => {
		const tracesPerS = spansPerS / SPANS_PER_TRACE;
		const writesPerS = tracesPerS * WRITES_PER_TRACE;
		const bytesPerWindow = tracesPerS * WINDOW_S * storedPerEntry;
		const shards = Math.max(1, Math.ceil((writesPerS * HEADROOM) / MAX_WRITES_PER_S), Math.ceil((bytesPerWindow * HEADROOM) / MAX_BYTES));
		const gbPerDay = (tracesPerS * 86_400 * storedPerEntry) / 1e9;
		// Per million spans: index storage kept RETENTION_DAYS (GB-months), R2's copy likewise, and the index's own operations.
		const tracesPerMillion = 1e6 / SPANS_PER_TRACE;
		const indexGbMonths = ((tracesPerMillion * storedPerEntry) / 1e9) * (RETENTION_DAYS / 30);
		const r2GbMonths = ((tracesPerMillion * trace.length) / 1e9) * (RETENTION_DAYS / 30);
		const storageUsd = indexGbMonths * USD_PER_GB_MONTH_DO + r2GbMonths * USD_PER_GB_MONTH_R2;
		return { spansPerS, tracesPerS, writesPerS, shards, writesPerPartition: writesPerS / shards, gbPerPartition: bytesPerWindow / shards / 1e9, gbPerDay, storageUsd, totalUsd: OPERATIONS_USD_PER_MILLION + storageUsd };
	});
	const indexOpsUsd = ((1e6 / SPANS_PER_TRACE) * WRITES_PER_TRACE * (USD_PER_MILLION_ROWS_WRITTEN + USD_PER_MILLION_DO_REQUESTS)) / 1e6;
	const f = (n: number, d = 0) => n.toLocaleString("en-US", { minimumFractionDigits: d, maximumFractionDigits: d });
	const markdown = [
		`Standard trace (64 spans in 8 parts): finalized index row **${f(size.rowBytes)} bytes**, of which ${f(size.rollupBytes)} are the TraceQL metrics rollups and ${f(size.rowBytes - size.rollupBytes)} the entry, its hashed facts and its columns (the entry alone as JSON: ${f(size.jsonBytes)} bytes; the row was 12,436 bytes before the compact encoding); one partition's database holds **${f(storedPerEntry)} bytes per entry** (SQLite pages included).`,
		`One partition object under \`wrangler dev\` (one machine, 16 concurrent writers of single entries): **${f(load.writesPerSecond)} writes/s** sustained over ${f(load.seconds, 1)} s — locally; on Cloudflare an object's soft limit is about ${f(OBJECT_REQUESTS_PER_S)} requests/s, so the budget SEARCH_SHARD_MAX_WRITES_PER_S is ${MAX_WRITES_PER_S}.`,
		"",
		`| spans/s | traces/s | index writes/s | shards per window | writes/s per partition | GB per partition (1 h window) | index GB per day | storage $ per M spans (30 days: index + R2) | total $ per M spans (operations $${OPERATIONS_USD_PER_MILLION.toFixed(3)} + storage) |`,
		"|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
		...rows.map((r) => `| ${f(r.spansPerS)} | ${f(r.tracesPerS, 1)} | ${f(r.writesPerS, 0)} | ${f(r.shards)} | ${f(r.writesPerPartition, 0)} | ${f(r.gbPerPartition, 3)} | ${f(r.gbPerDay, 1)} | $${r.storageUsd.toFixed(4)} | $${r.totalUsd.toFixed(3)} |`),
		"",
		`Per million spans the index itself costs $${indexOpsUsd.toFixed(4)} in operations (${f((1e6 / SPANS_PER_TRACE) * WRITES_PER_TRACE)} rows written and as many object requests; part of the operations bill) and $${((((1e6 / SPANS_PER_TRACE) * storedPerEntry) / 1e9) * USD_PER_GB_MONTH_DO).toFixed(4)} per month it is kept. Limits per partition: ${MAX_WRITES_PER_S} writes/s (of ~${f(OBJECT_REQUESTS_PER_S)} requests/s) and ${MAX_BYTES / 1e9} GB (of ${OBJECT_GB} GB).`,
	].join("\n");
	return { markdown, figures: { entry: size, partitionLoad: load, storedBytesPerEntry: storedPerEntry, rows, indexOpsUsdPerMillion: indexOpsUsd } };
}
