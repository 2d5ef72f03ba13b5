// The search index forgetting on schedule and giving up in bounded time (issue 17), with windows of
// 1 s, INDEX_RETENTION_MS 3 s, INDEX_RETRY_MS 2 s and trace objects keeping their storage 3 s
// (vitest.config.ts, project "index-expiry"): expired windows leave the status and the searches and
// their objects delete themselves; a request over an expired range wakes no object; an index write
// that keeps failing ends with the trace unindexed, still readable by id, its object's storage freed.
import { describe, expect, it } from "vitest";
import { env, exports } from "cloudflare:workers";
import { runInDurableObject } from "cloudflare:test";
import { SearchPartition } from "../src/search/partition";
import { IndexDirectory } from "../src/search/directory";
import { partitionName } from "../src/search/partitions";
import { BASE, finalizeNow, getTrace, postTraces, protobufRequest, randomHex, stubFor, type SpanSpec, methodPatches } from "./helpers";

const MS = 1_000_000n;
const ACME = { authorization: "Bearer acme-token" };
const RETENTION_MS = 3_000;

const { patch } = methodPatches();

async function get<T>(path: string, params: Record<string, string>): Promise<{ status: number; body: T }> {
	const url = new URL(`${BASE}${path}`);
	for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
	const response = await exports.default.fetch(new Request(url, { headers: ACME }));
	return { status: response.status, body: (await response.json()) as T };
}

async function sendTrace(service: string): Promise<string> {
	const traceId = randomHex(16);
	const root = randomHex(8);
	const start = BigInt(Date.now() - 50) * MS;
	const spans: SpanSpec[] = [
		{ traceId, spanId: root, name: "GET /", service, kind: 2, startNs: start, endNs: start + 20n * MS },
		{ traceId, spanId: randomHex(8), parentSpanId: root, name: "db", service, startNs: start + MS, endNs: start + 5n * MS },
	];
	const response = await postTraces(protobufRequest(spans), { headers: ACME });
	expect(response.status).toBe(200);
	await response.arrayBuffer();
	return traceId;
}

async function eventually<T>(what: string, read: () => Promise<T>, done: (value: T) => boolean, timeoutMs = 20_000): Promise<T> {
	const deadline = Date.now() + timeoutMs;
	for (;;) {
		const value = await read();
		if (done(value)) return value;
		if (Date.now() > deadline) throw new Error(`${what}: not reached in time: ${JSON.stringify(value).slice(0, 600)}`);
		await new Promise((r) => setTimeout(r, 100));
	}
}

const sec = (ms: number) => String(ms / 1000);

describe("index retention", () => {
	it("drops windows past INDEX_RETENTION_MS from status and searches; their partitions hold nothing; an expired range wakes no object", { timeout: 60_000 }, async () => {
		const from = Date.now() - 1_000;
		const traceIds = [await sendTrace("expiring-svc"), await sendTrace("expiring-svc")];
		for (const traceId of traceIds) await finalizeNow(traceId, "acme");
		const to = Date.now() + 500;
		const range = { start: sec(from), end: sec(to) };
		const found = await eventually("listed", async () => (await get<{ traces: { traceID: string }[] }>("/api/search", { q: '{resource.service.name="expiring-svc"}', ...range })).body.traces.map((t) => t.traceID), (ids) => traceIds.every((id) => ids.includes(id)));
		expect(found.sort()).toEqual([...traceIds].sort());
		const before = (await get<{ windows: { start: number; shards: number; entries: number }[] }>("/api/status/index", range)).body.windows;
		expect(before.reduce((n, w) => n + w.entries, 0)).toBe(2);
		const partitions = before.flatMap((w) => Array.from({ length: w.shards }, (_, shard) => partitionName("acme", w.start, shard)));
		expect(partitions.length).toBeGreaterThan(0);
		const lastEnd = Math.max(...before.map((w) => w.start)) + 1_000;

		// Past retention: each partition's alarm has dropped its table and deleted everything.
		await new Promise((r) => setTimeout(r, Math.max(0, lastEnd + RETENTION_MS + 1_500 - Date.now())));
		for (const name of partitions) {
			const left = await eventually(
				`${name} deleted`,
				() => runInDurableObject(env.SEARCH_PARTITION.getByName(name), async (_i, state) => ({ tables: state.storage.sql.exec("SELECT name FROM sqlite_master WHERE type = 'table'").toArray().length, alarm: await state.storage.getAlarm() })),
				(s) => s.tables === 0,
				5_000,
			);
			expect(left).toEqual({ tables: 0, alarm: null });
		}

		// A range wholly past retention asks no partition and not even the directory.
		let calls = 0;
		for (const method of ["search", "tagNames", "tagValues", "stats"] as const) {
			patch(SearchPartition.prototype, method, (original) => function (this: SearchPartition, ...args: unknown[]) { calls++; return (original as (...a: unknown[]) => unknown).apply(this, args); } as never);
		}
		patch(IndexDirectory.prototype, "windows", (original) => function (this: IndexDirectory, ...args: unknown[]) { calls++; return (original as (...a: unknown[]) => unknown).apply(this, args); } as never);
		const expired = await get<{ traces: unknown[] }>("/api/search", { q: "{}", ...range });
		expect(expired).toEqual({ status: 200, body: { traces: [] } });
		expect((await get<{ tagValues: unknown[] }>("/api/v2/search/tag/resource.service.name/values", range)).body.tagValues).toEqual([]);
		expect((await get<{ scopes: unknown[] }>("/api/v2/search/tags", range)).status).toBe(200);
		expect((await get<{ windows: unknown[] }>("/api/status/index", range)).body.windows).toEqual([]);
		expect(calls).toBe(0);
		// A range reaching into the retained past no longer lists the expired windows.
		const recent = await get<{ windows: { start: number }[] }>("/api/status/index", { start: sec(from), end: sec(Date.now()) });
		expect(recent.body.windows.filter((w) => w.start <= lastEnd)).toEqual([]);
		// The traces themselves stay readable by id (R2 keeps them; its lifecycle rule is the README's).
		for (const traceId of traceIds) expect((await getTrace(traceId, ACME)).status).toBe(200);
	});
});

describe("bounded index retry", () => {
	it("gives up after INDEX_RETRY_MS: the trace is unindexed (status), readable by id, and its object frees its storage", { timeout: 60_000 }, async () => {
		let refused = 0;
		let victim = "";
		patch(SearchPartition.prototype, "put", (original) =>
			async function (this: SearchPartition, rows, place) {
				if (rows.some((row) => row.traceId === victim)) {
					refused++;
					throw new Error("injected: partition refuses writes");
				}
				return original.call(this, rows, place);
			},
		);
		const start = Date.now();
		victim = await sendTrace("stuck-svc");
		expect(await finalizeNow(victim, "acme")).toBe(true);
		expect((await getTrace(victim, ACME)).status).toBe(200);
		// The alarm retries with backoff (2 s, 4 s ...) and gives up at the first attempt past 2 s.
		const status = await eventually(
			"counted as unindexed",
			async () => (await get<{ unindexed: number; unindexedTraceIds: string[] }>("/api/status/index", { start: sec(start - 1_000), end: sec(Date.now() + 1_000) })).body,
			(s) => s.unindexedTraceIds.includes(victim),
		);
		expect(status.unindexed).toBeGreaterThanOrEqual(1);
		expect(refused).toBeGreaterThanOrEqual(2);
		const attempts = refused;
		// Its object frees its storage on schedule (RETENTION_MS after finalization), and tries no more.
		const size = await eventually("storage freed", () => runInDurableObject(stubFor(victim, "acme"), (_i, state) => state.storage.sql.exec("SELECT name FROM sqlite_master WHERE type = 'table'").toArray().length), (n) => n === 0);
		expect(size).toBe(0);
		expect(await runInDurableObject(stubFor(victim, "acme"), (_i, state) => state.storage.getAlarm())).toBeNull();
		await new Promise((r) => setTimeout(r, 2_500));
		expect(refused).toBe(attempts);
		// Still readable by id, from R2.
		const read = await getTrace(victim, ACME);
		expect(read.status).toBe(200);
	});
});
