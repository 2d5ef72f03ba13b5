// COUNT_USAGE: each counter behind the README's cost table, against a workload whose bill is known
// (the cloudflare.md facts: an INSERT of 3 rows into a table without indexes writes 3 rows, UPDATE
// and DELETE of 3 write 3, reading 3 reads 3; every setAlarm() is one row written; every RPC call,
// fetch and alarm is one Durable Object request). Counting is per isolate and, once on, stays on:
// the first test runs before anything turns it on.
import { describe, expect, it } from "vitest";
import { env, exports } from "cloudflare:workers";
import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { enableUsageCounting, execCounted, selectCounted, setAlarmCounted, usageSnapshot, type UsageCounts } from "../src/metering/usage";
import type { TraceAssembler } from "../src/assembler/trace-object";
import { AUTH, BASE, finalizeNow, jsonRequest, postTraces, randomHex, stubFor } from "./helpers";

/** What `run` added to each counter. */
async function spent(run: () => Promise<unknown>): Promise<Partial<UsageCounts>> {
	const before = usageSnapshot();
	await run();
	const after = usageSnapshot();
	const delta: Partial<UsageCounts> = {};
	for (const key of Object.keys(after) as (keyof UsageCounts)[]) if (after[key] !== before[key]) delta[key] = after[key] - before[key];
	return delta;
}

const usage = (headers: Record<string, string> = AUTH) => exports.default.fetch(new Request(`${BASE}/debug/usage`, { headers }));

describe("usage counting", () => {
	it("GET /debug/usage is 404 while COUNT_USAGE is off, and counts nothing", async () => {
		const res = await usage();
		expect(res.status).toBe(404);
		expect(((await res.json()) as { message: string }).message).toMatch(/COUNT_USAGE/);
		await postTraces(jsonRequest([{ traceId: randomHex(16), spanId: randomHex(8) }]));
		expect(Object.values(usageSnapshot()).every((n) => n === 0)).toBe(true);
	});

	it("rowsWritten and rowsRead: what SQLite's cursor bills, through the counting wrappers", async () => {
		enableUsageCounting({ COUNT_USAGE: "true" });
		await runInDurableObject(stubFor(randomHex(16)), async (_: TraceAssembler, state) => {
			const sql = state.storage.sql;
			execCounted(sql, "CREATE TABLE IF NOT EXISTS scratch (id INTEGER PRIMARY KEY, v TEXT)");
			// SQLite also reads the rows it checks the key of: the cursor says so, and that is counted too.
			expect(await spent(async () => execCounted(sql, "INSERT INTO scratch (id, v) VALUES (1, 'a'), (2, 'b'), (3, 'c')"))).toMatchObject({ rowsWritten: 3 });
			expect(await spent(async () => execCounted(sql, "UPDATE scratch SET v = 'x'"))).toMatchObject({ rowsWritten: 3 });
			const read = await spent(async () => expect(selectCounted(sql, "SELECT id, v FROM scratch")).toHaveLength(3));
			expect(read).toEqual({ rowsRead: 3 });
			expect(await spent(async () => execCounted(sql, "DELETE FROM scratch"))).toMatchObject({ rowsWritten: 3 });
		});
	});

	it("alarmsSet: one per setAlarm() call", async () => {
		enableUsageCounting({ COUNT_USAGE: "true" });
		await runInDurableObject(stubFor(randomHex(16)), async (_: TraceAssembler, state) => {
			expect(await spent(() => setAlarmCounted(state.storage, Date.now() + 60_000))).toEqual({ alarmsSet: 1 });
			await state.storage.deleteAlarm();
		});
	});

	it("objectCalls: one per RPC call or fetch that reaches an object; alarmsRun: one per alarm", async () => {
		enableUsageCounting({ COUNT_USAGE: "true" });
		const traceId = randomHex(16);
		const address = { tenant: "", traceId };
		expect(await spent(async () => {
			await stubFor(traceId).view(address);
			await stubFor(traceId).mergedInto();
			await stubFor(traceId).hasSpan(address, traceId, randomHex(8), 0);
		})).toMatchObject({ objectCalls: 3 });
		await postTraces(jsonRequest([{ traceId, spanId: randomHex(8) }]));
		const alarm = await spent(() => runDurableObjectAlarm(stubFor(traceId)));
		expect(alarm.alarmsRun).toBeGreaterThanOrEqual(1);
		// The finalization: one alarm run of the trace's object (the index write it makes is an RPC, not an alarm).
		expect(alarm.alarmsRun).toBe(1);
	});

	it("workerRequests: one per request to the Worker, /debug/usage itself excluded", async () => {
		enableUsageCounting({ COUNT_USAGE: "true" });
		const delta = await spent(async () => {
			for (let i = 0; i < 3; i++) await (await exports.default.fetch(new Request(`${BASE}/v1/traces/${randomHex(16)}`, { headers: AUTH }))).arrayBuffer();
			await (await usage()).arrayBuffer();
		});
		expect(delta.workerRequests).toBe(3);
	});

	it("r2ClassA and r2ClassB: finalization writes once (after one read of what R2 holds); a read of the finalized trace reads once", async () => {
		enableUsageCounting({ COUNT_USAGE: "true" });
		const traceId = randomHex(16);
		await postTraces(jsonRequest([{ traceId, spanId: randomHex(8) }]));
		const finalized = await spent(() => finalizeNow(traceId));
		expect(finalized.r2ClassA).toBe(1);
		expect(finalized.r2ClassB).toBe(1);
		expect(await env.TRACES.head(`traces/${traceId}.binpb`)).not.toBeNull();
		const read = await spent(async () => (await exports.default.fetch(new Request(`${BASE}/v1/traces/${traceId}`, { headers: AUTH }))).arrayBuffer());
		expect(read).toMatchObject({ r2ClassB: 1, workerRequests: 1 });
		expect(read.r2ClassA).toBeUndefined();
	});

	it("a trace's ingest bills its part row and its alarm: one INSERT, one setAlarm()", async () => {
		enableUsageCounting({ COUNT_USAGE: "true" });
		const traceId = randomHex(16);
		await postTraces(jsonRequest([{ traceId, spanId: randomHex(8) }]));
		// A second part of the same open trace: one row, the alarm not moved, one object call.
		const second = await spent(async () => {
			const res = await postTraces(jsonRequest([{ traceId, spanId: randomHex(8) }, { traceId, spanId: randomHex(8) }]));
			expect(res.status).toBe(200);
		});
		expect(second).toMatchObject({ rowsWritten: 1, objectCalls: 1, workerRequests: 1 });
		expect(second.alarmsSet).toBeUndefined();
	});

	it("the search index's objects count their statements too (the directory's INSERT and SELECT were raw)", async () => {
		enableUsageCounting({ COUNT_USAGE: "true" });
		const directory = env.INDEX_DIRECTORY.getByName(`metering-${randomHex(4)}`);
		const traceId = randomHex(16);
		// The unindexed list: one INSERT of one row (plus its key's index), then a SELECT that reads it.
		const write = await spent(() => directory.unindexed(traceId, Date.now()));
		expect(write.rowsWritten).toBeGreaterThanOrEqual(1);
		expect(write.objectCalls).toBe(1);
		const read = await spent(async () => expect((await directory.unindexedIn(0, Date.now() + 1)).traceIds).toEqual([traceId]));
		expect(read.rowsRead).toBeGreaterThanOrEqual(1);
		expect(read.rowsWritten).toBeUndefined();
	});
});
