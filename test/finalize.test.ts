import { describe, expect, it } from "vitest";
import { env } from "cloudflare:workers";
import { runInDurableObject } from "cloudflare:test";
import { fromBinary } from "@bufbuild/protobuf";
import { TracesDataSchema } from "../src/gen/opentelemetry/proto/trace/v1/trace_pb";
import { finalizeNow, holdR2Puts, jsonRequest, postTraces, randomHex, readTrace, r2KeyOf, spanIds, stubFor } from "./helpers";

async function storedSpanIds(traceId: string): Promise<string[]> {
	const object = await env.TRACES.get(r2KeyOf(traceId));
	if (!object) return [];
	return spanIds(fromBinary(TracesDataSchema, new Uint8Array(await object.arrayBuffer())));
}

function alarmOf(traceId: string): Promise<number | null> {
	return runInDurableObject(stubFor(traceId), (_instance, state) => state.storage.getAlarm());
}

describe("finalization", () => {
	it("sets the alarm once for a trace's parts and slides the quiet period exactly when it fires", { timeout: 40_000 }, async () => {
		const traceId = randomHex(16);
		const firstSpan = randomHex(8);
		const before = Date.now();
		await postTraces(jsonRequest([{ traceId, spanId: firstSpan }]));
		const first = (await alarmOf(traceId))!;
		expect(first).toBeGreaterThanOrEqual(before + 10_000);
		expect(first).toBeLessThanOrEqual(Date.now() + 10_000);
		// A later part does not move the alarm (each setAlarm() is a billed row)...
		await new Promise((r) => setTimeout(r, 2_000));
		const lastSpan = randomHex(8);
		const lastAt = Date.now();
		await postTraces(jsonRequest([{ traceId, spanId: lastSpan }]));
		expect(await alarmOf(traceId)).toBe(first);
		// ...but when the alarm fires, the quiet period since the last part is not over: it is moved
		// to the remainder, and the trace stays open until then.
		while ((await alarmOf(traceId)) === first) await new Promise((r) => setTimeout(r, 200));
		const rearmed = (await alarmOf(traceId))!;
		expect(rearmed).toBeGreaterThanOrEqual(lastAt + 10_000);
		expect(rearmed).toBeLessThanOrEqual(lastAt + 10_500);
		expect(await env.TRACES.head(r2KeyOf(traceId))).toBeNull();
		expect((await readTrace(traceId)).status).toBe("partial");
		while ((await readTrace(traceId)).status !== "complete") await new Promise((r) => setTimeout(r, 200));
		expect(Date.now()).toBeGreaterThanOrEqual(lastAt + 10_000);
		expect(await storedSpanIds(traceId)).toEqual([firstSpan, lastSpan].sort());
	});

	it("caps the alarm at MAX_TRACE_AGE_MS after the first pending span", async () => {
		const traceId = randomHex(16);
		await postTraces(jsonRequest([{ traceId, spanId: randomHex(8) }]));
		// Pretend the first span came 55 s ago: the age cap (60 s) is then sooner than the quiet period.
		const firstAt = Date.now() - 55_000;
		await runInDurableObject(stubFor(traceId), (_i, state) => {
			state.storage.sql.exec("UPDATE parts SET arrived_at = ? WHERE seq = 1", firstAt);
		});
		const { evictDurableObject } = await import("cloudflare:test");
		await evictDurableObject(stubFor(traceId));
		await postTraces(jsonRequest([{ traceId, spanId: randomHex(8) }]));
		expect(await alarmOf(traceId)).toBe(firstAt + 60_000);
	});

	it("writes the trace to R2 as TracesData with summary metadata, then reads it from R2 as complete", async () => {
		const traceId = randomHex(16);
		const root = randomHex(8);
		const child = randomHex(8);
		await postTraces(
			jsonRequest([
				{ traceId, spanId: root, name: "GET /", service: "gateway", startNs: 1000n, endNs: 9000n },
				{ traceId, spanId: child, parentSpanId: root, name: "db", service: "db", startNs: 2000n, endNs: 3000n, statusCode: 2 },
			]),
		);
		expect(await finalizeNow(traceId)).toBe(true);
		const object = await env.TRACES.head(r2KeyOf(traceId));
		expect(object?.customMetadata).toEqual({
			traceId,
			spanCount: "2",
			rootSpanName: "GET /",
			services: "db,gateway",
			startTimeUnixNano: "1000",
			endTimeUnixNano: "9000",
			error: "true",
			// What the object wrote, in place of a state row: <epoch>:<last part>, and the index entry's place.
			writtenUpTo: expect.stringMatching(/^[0-9a-f-]{36}:1$/),
			searchPartition: expect.stringMatching(/^index\//),
			searchSortKey: expect.any(String),
		});
		expect(object?.httpMetadata?.contentType).toBe("application/x-protobuf");
		const { status, trace } = await readTrace(traceId);
		expect(status).toBe("complete");
		expect(spanIds(trace)).toEqual([root, child].sort());
		// The part is one row, kept as it arrived (its spans' identities keep retries exactly-once);
		// finalization wrote no row at all: R2's metadata says what is written (the first part row
		// holds the epoch it names), and no span was touched.
		const rows = await runInDurableObject(stubFor(traceId), (_i, state) =>
			state.storage.sql.exec<{ parts: number; stateRows: number; epoch: string }>("SELECT count(*) FILTER (WHERE seq > 0) AS parts, count(*) FILTER (WHERE seq = 0) AS stateRows, max(state) FILTER (WHERE seq = 1) AS epoch FROM parts").one(),
		);
		expect(rows).toEqual({ parts: 1, stateRows: 0, epoch: object!.customMetadata!.writtenUpTo!.split(":")[0] });
	});

	it("reopens on a late span and stores the union at the next finalization", async () => {
		const traceId = randomHex(16);
		const early = [randomHex(8), randomHex(8)];
		await postTraces(jsonRequest(early.map((spanId) => ({ traceId, spanId }))));
		await finalizeNow(traceId);
		const late = randomHex(8);
		await postTraces(jsonRequest([{ traceId, spanId: late }, { traceId, spanId: early[0]! }]));
		const reopened = await readTrace(traceId);
		expect(reopened.status).toBe("partial");
		expect(spanIds(reopened.trace)).toEqual([...early, late].sort());
		await finalizeNow(traceId);
		expect(await storedSpanIds(traceId)).toEqual([...early, late].sort());
		expect((await readTrace(traceId)).status).toBe("complete");
	});

	it("merges with what R2 holds even after the object forgot the first finalization", async () => {
		const traceId = randomHex(16);
		const early = [randomHex(8), randomHex(8)];
		await postTraces(jsonRequest(early.map((spanId) => ({ traceId, spanId }))));
		await finalizeNow(traceId);
		// The retention alarm fires: the object deletes all its storage (a state row that dates the
		// write to 1970 makes it due; R2's metadata would date it now).
		await runInDurableObject(stubFor(traceId), async (_i, state) => {
			state.storage.sql.exec("INSERT INTO parts (seq, arrived_at, state) VALUES (0, 0, ?) ON CONFLICT (seq) DO UPDATE SET state = excluded.state", JSON.stringify({ writtenUpTo: 1, finalized: { at: 0, spanCount: 2 } }));
		});
		const { evictDurableObject } = await import("cloudflare:test");
		await evictDurableObject(stubFor(traceId));
		expect(await finalizeNow(traceId)).toBe(true);
		const empty = await runInDurableObject(stubFor(traceId), (_i, state) => state.storage.sql.databaseSize);
		expect(empty).toBeLessThan(8192);
		expect((await readTrace(traceId)).status).toBe("complete");
		// A late span (and a retry of an early one) land in a fresh object, and the union is stored.
		const late = randomHex(8);
		await postTraces(jsonRequest([{ traceId, spanId: late }, { traceId, spanId: early[1]! }]));
		expect(spanIds((await readTrace(traceId)).trace)).toEqual([...early, late].sort());
		await finalizeNow(traceId);
		expect(await storedSpanIds(traceId)).toEqual([...early, late].sort());
	});

	it("keeps a span that arrives while the R2 write is in flight, and writes it next time", async () => {
		const traceId = randomHex(16);
		const first = randomHex(8);
		const during = randomHex(8);
		await postTraces(jsonRequest([{ traceId, spanId: first }]));
		const { release, restore } = holdR2Puts();
		try {
			const alarm = finalizeNow(traceId);
			await new Promise((r) => setTimeout(r, 50));
			expect((await postTraces(jsonRequest([{ traceId, spanId: during }]))).status).toBe(200);
			release();
			await alarm;
		} finally {
			restore();
		}
		expect(await storedSpanIds(traceId)).toEqual([first]);
		const open = await readTrace(traceId);
		expect(open.status).toBe("partial");
		expect(spanIds(open.trace)).toEqual([first, during].sort());
		await finalizeNow(traceId);
		expect(await storedSpanIds(traceId)).toEqual([first, during].sort());
	});

	it("retries a failed R2 write with backoff and loses nothing", async () => {
		const traceId = randomHex(16);
		const spans = [randomHex(8), randomHex(8)];
		await postTraces(jsonRequest(spans.map((spanId) => ({ traceId, spanId }))));
		const bucket = Object.getPrototypeOf(env.TRACES) as R2Bucket;
		const put = bucket.put;
		bucket.put = (async () => {
			throw new Error("injected R2 outage");
		}) as R2Bucket["put"];
		const delays: number[] = [];
		try {
			for (let attempt = 0; attempt < 8; attempt++) {
				const before = Date.now();
				expect(await finalizeNow(traceId)).toBe(true);
				delays.push((await alarmOf(traceId))! - before);
			}
		} finally {
			bucket.put = put;
		}
		// 2 s, 4 s, 8 s ... capped at 5 minutes: beyond the platform's six alarm retries.
		expect(delays[0]).toBeGreaterThanOrEqual(2_000);
		expect(delays[0]).toBeLessThan(3_000);
		expect(delays[7]).toBeGreaterThanOrEqual(256_000);
		expect(await env.TRACES.head(r2KeyOf(traceId))).toBeNull();
		expect((await readTrace(traceId)).status).toBe("partial");
		expect(await finalizeNow(traceId)).toBe(true);
		expect(await storedSpanIds(traceId)).toEqual(spans.sort());
	});
});
