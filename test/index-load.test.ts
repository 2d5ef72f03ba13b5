// The search index following load (issue 17), with windows of 6 s and a budget of 5 entry writes
// per second per partition (vitest.config.ts, project "index-load"): a burst splits its window
// mid-way, the next window opens with more shards (seen in GET /api/status/index and in the
// tenant's directory), and searches and tag values stay exact across windows with different
// shard counts: every trace listed once.
import { describe, expect, it } from "vitest";
import { env, exports } from "cloudflare:workers";
import { partitionName } from "../src/search/partitions";
import { BASE, postTraces, protobufRequest, randomHex, type SpanSpec } from "./helpers";

const MS = 1_000_000n;
const WINDOW_MS = 6_000;
const ACME = { authorization: "Bearer acme-token" };

interface Status {
	windows: { start: number; shards: number; entries: number; bytes: number }[];
	unindexed: number;
}

async function get<T>(path: string, params: Record<string, string>): Promise<{ status: number; body: T }> {
	const url = new URL(`${BASE}${path}`);
	for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
	const response = await exports.default.fetch(new Request(url, { headers: ACME }));
	return { status: response.status, body: (await response.json()) as T };
}

/** Sends `count` one-span traces starting now, tagged with their phase and group; returns their ids. */
async function burst(phase: string, count: number): Promise<{ traceId: string; group: string }[]> {
	const now = BigInt(Date.now()) * MS;
	const traces = Array.from({ length: count }, (_, i) => ({ traceId: randomHex(16), group: `g${i % 3}` }));
	const spans: SpanSpec[] = traces.map((t, i) => ({ traceId: t.traceId, spanId: randomHex(8), name: `op-${phase}`, service: "load-svc", startNs: now + BigInt(i) * 1_000n, endNs: now + BigInt(i) * 1_000n + 5n * MS, attributes: { phase, group: t.group } }));
	// A few requests, as exporters batch: each trace's first span is one open-entry write.
	for (let i = 0; i < spans.length; i += 10) {
		const response = await postTraces(protobufRequest(spans.slice(i, i + 10)), { headers: ACME });
		expect(response.status).toBe(200);
		await response.arrayBuffer();
	}
	return traces;
}

/** Waits until `ms` into the next window (so a phase's traces all fall in one window). */
async function nextWindow(ms: number): Promise<void> {
	const now = Date.now();
	await new Promise((r) => setTimeout(r, WINDOW_MS - (now % WINDOW_MS) + ms));
}

async function eventually<T>(what: string, read: () => Promise<T>, done: (value: T) => boolean, timeoutMs = 15_000): Promise<T> {
	const deadline = Date.now() + timeoutMs;
	for (;;) {
		const value = await read();
		if (done(value)) return value;
		if (Date.now() > deadline) throw new Error(`${what}: not reached in time: ${JSON.stringify(value).slice(0, 800)}`);
		await new Promise((r) => setTimeout(r, 100));
	}
}

describe("index shards that follow load", () => {
	it("splits a window under a burst, opens the next with more shards, and stays exact across them", { timeout: 60_000 }, async () => {
		const started = Date.now();
		await nextWindow(100);
		const windowA = Math.floor(Date.now() / WINDOW_MS) * WINDOW_MS;
		const a1 = await burst("a1", 20);
		// The burst passes the budget: the directory records a split, in force a moment later (the
		// time writers' copies of the window take to expire). A second burst in the same window after
		// that is filed over the window's new shards.
		const directory = env.INDEX_DIRECTORY.getByName("directory/acme");
		const split = await eventually("window A split", () => directory.windows(windowA, windowA), (ws) => (ws[0]?.steps.length ?? 0) > 1);
		await new Promise((r) => setTimeout(r, Math.max(0, split[0]!.steps.at(-1)!.fromMs + 50 - Date.now())));
		const a2 = await burst("a2", 20);
		if (Date.now() >= windowA + WINDOW_MS) throw new Error("the machine was too slow: the second burst left window A (rerun)");
		// Some of them land (open entries are written just after the ingest reply) in the shards the split added.
		const addedShards = Array.from({ length: split[0]!.steps.at(-1)!.shards - 1 }, (_, i) => partitionName("acme", windowA, i + 1));
		await eventually("entries in the added shards", async () => (await Promise.all(addedShards.map((name) => env.SEARCH_PARTITION.getByName(name).stats()))).reduce((n, s) => n + s.rows, 0), (n) => n > 0);
		await nextWindow(100);
		const windowB = Math.floor(Date.now() / WINDOW_MS) * WINDOW_MS;
		const b = await burst("b", 20);
		const all = [...a1, ...a2, ...b];
		const range = { start: String((started - WINDOW_MS) / 1000), end: String((Date.now() + 1000) / 1000) };

		// Every trace listed exactly once by {} (open entries first, then finalized ones: both once).
		const everything = await eventually(
			"{} lists every trace",
			async () => (await get<{ traces: { traceID: string }[] }>("/api/search", { q: "{}", limit: "1000", ...range })).body.traces.map((t) => t.traceID),
			(ids) => all.every((t) => ids.includes(t.traceId)),
		);
		expect(everything.filter((id) => all.some((t) => t.traceId === id)).sort()).toEqual(all.map((t) => t.traceId).sort());
		expect(new Set(everything).size).toBe(everything.length);

		// The directory split window A mid-way and opened window B with more shards than A started with.
		const windows = await directory.windows(windowA, windowB);
		const a = windows.find((w) => w.startMs === windowA)!;
		const bw = windows.find((w) => w.startMs === windowB)!;
		expect(a.steps[0]!.shards).toBe(1);
		expect(a.steps.at(-1)!.shards).toBeGreaterThan(1);
		expect(bw.steps[0]!.shards).toBeGreaterThan(1);
		const status = await get<Status>("/api/status/index", range);
		expect(status.status).toBe(200);
		const shown = status.body.windows.filter((w) => w.start === windowA || w.start === windowB);
		expect(shown.map((w) => w.start)).toEqual([windowB, windowA]);
		expect(shown[0]!.shards).toBe(bw.steps.at(-1)!.shards);
		expect(shown[1]!.shards).toBe(a.steps.at(-1)!.shards);
		for (const w of shown) expect(w.bytes).toBeGreaterThan(0);
		// Entries over each window's shards: the traces filed there (a trace is in one partition).
		await eventually("entries counted", async () => (await get<Status>("/api/status/index", range)).body.windows.filter((w) => w.start === windowA || w.start === windowB).reduce((n, w) => n + w.entries, 0), (n) => n === all.length);

		// Attribute searches and tag values exact across windows with different shard counts.
		for (const group of ["g0", "g1", "g2"]) {
			const expected = all.filter((t) => t.group === group).map((t) => t.traceId).sort();
			const found = (await get<{ traces: { traceID: string }[] }>("/api/search", { q: `{span.group="${group}"}`, limit: "1000", ...range })).body.traces.map((t) => t.traceID);
			expect(found.sort(), group).toEqual(expected);
		}
		const phaseB = (await get<{ traces: { traceID: string }[] }>("/api/search", { q: '{span.phase="b" && name="op-b"}', limit: "1000", ...range })).body.traces.map((t) => t.traceID);
		expect(phaseB.sort()).toEqual(b.map((t) => t.traceId).sort());
		const values = await get<{ tagValues: { value: string }[] }>("/api/v2/search/tag/span.phase/values", range);
		expect(values.body.tagValues.map((v) => v.value).sort()).toEqual(["a1", "a2", "b"]);
		const names = await get<{ tagValues: { value: string }[] }>("/api/v2/search/tag/name/values", range);
		expect(names.body.tagValues.map((v) => v.value).sort()).toEqual(["op-a1", "op-a2", "op-b"]);
		// Newest first and the early stop: the 5 newest, in order, even with a small limit.
		const newest = (await get<{ traces: { traceID: string; startTimeUnixNano: string }[] }>("/api/search", { q: "{}", limit: "5", ...range })).body.traces;
		const starts = newest.map((t) => BigInt(t.startTimeUnixNano));
		expect(starts).toEqual([...starts].sort((x, y) => (x > y ? -1 : x < y ? 1 : 0)));
		expect(newest.map((t) => t.traceID)).toEqual(everything.slice(0, 5));
	});
});
