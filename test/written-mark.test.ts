// "Written up to" lives in the R2 object's metadata, not in a state row: a finalization writes no
// row of the object's own. These pin that a restart reads the mark back and that a mark from an
// earlier life of the object's storage never marks a new life's parts as written.
import { afterEach, expect, it } from "vitest";
import { env } from "cloudflare:workers";
import { evictDurableObject, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { fromBinary } from "@bufbuild/protobuf";
import { TracesDataSchema } from "../src/gen/opentelemetry/proto/trace/v1/trace_pb";
import { jsonRequest, postTraces, randomHex, readTrace, r2KeyOf, spanIds, stubFor } from "./helpers";

const bucket = Object.getPrototypeOf(env.TRACES) as R2Bucket;
const { put, head } = bucket;
afterEach(() => Object.assign(bucket, { put, head }));

/** Counts R2 puts of `traceId`'s key from now on. */
function countPuts(traceId: string): { puts: number } {
	const seen = { puts: 0 };
	bucket.put = async function (this: R2Bucket, ...args: Parameters<R2Bucket["put"]>) {
		if (args[0] === r2KeyOf(traceId)) seen.puts++;
		return put.apply(this, args);
	} as R2Bucket["put"];
	return seen;
}

async function storedIds(traceId: string): Promise<string[]> {
	const object = await env.TRACES.get(r2KeyOf(traceId));
	return object ? spanIds(fromBinary(TracesDataSchema, new Uint8Array(await object.arrayBuffer()))) : [];
}

/** The object's storage as it is: state rows and part rows. */
function rowsOf(traceId: string): Promise<{ stateRows: number; parts: number }> {
	return runInDurableObject(stubFor(traceId), (_i, state) =>
		state.storage.sql.exec<{ stateRows: number; parts: number }>("SELECT count(*) FILTER (WHERE seq = 0) AS stateRows, count(*) FILTER (WHERE seq > 0) AS parts FROM parts").one(),
	);
}

it("after a restart, reads what is written from R2's metadata: no part looks pending, no rewrite, a late retry is a duplicate", async () => {
	const traceId = randomHex(16);
	const ids = [randomHex(8), randomHex(8)];
	expect((await postTraces(jsonRequest(ids.map((spanId) => ({ traceId, spanId }))))).status).toBe(200);
	expect(await runDurableObjectAlarm(stubFor(traceId))).toBe(true);
	expect(await rowsOf(traceId)).toEqual({ stateRows: 0, parts: 1 });
	const puts = countPuts(traceId);
	await evictDurableObject(stubFor(traceId));
	// The restarted object knows its part is in R2 (else it would read as partial and write again).
	expect((await readTrace(traceId)).status).toBe("complete");
	expect(await runDurableObjectAlarm(stubFor(traceId))).toBe(true);
	expect(puts.puts).toBe(0);
	// An exporter's retry of a written span adds nothing; a late span reopens and is written with the rest.
	const late = randomHex(8);
	expect((await postTraces(jsonRequest([{ traceId, spanId: ids[0]! }, { traceId, spanId: late }])))).toHaveProperty("status", 200);
	await evictDurableObject(stubFor(traceId));
	expect(await runDurableObjectAlarm(stubFor(traceId))).toBe(true);
	expect(puts.puts).toBe(1);
	expect(await storedIds(traceId)).toEqual([...ids, late].sort());
	expect((await env.TRACES.head(r2KeyOf(traceId)))?.customMetadata?.writtenUpTo).toMatch(/:2$/);
});

it("never takes an earlier life's mark for a new life's parts: a span stored after retention is written, not forgotten", async () => {
	const traceId = randomHex(16);
	const early = randomHex(8);
	expect((await postTraces(jsonRequest([{ traceId, spanId: early }]))).status).toBe(200);
	expect(await runDurableObjectAlarm(stubFor(traceId))).toBe(true);
	// Retention, due at once: a state row that dates the write to 1970, then the alarm frees storage.
	await runInDurableObject(stubFor(traceId), (_i, state) => {
		state.storage.sql.exec("INSERT INTO parts (seq, arrived_at, state) VALUES (0, 0, ?)", JSON.stringify({ writtenUpTo: 1, finalized: { at: 0, spanCount: 1 } }));
	});
	await evictDurableObject(stubFor(traceId));
	expect(await runDurableObjectAlarm(stubFor(traceId))).toBe(true);
	expect(await runInDurableObject(stubFor(traceId), (_i, state) => state.storage.sql.exec("SELECT count(*) AS n FROM sqlite_master WHERE name = 'parts'").one().n)).toBe(0);
	// A late span: part 1 of the object's new life, while R2's mark still says "<old epoch>:1".
	const late = randomHex(8);
	expect((await postTraces(jsonRequest([{ traceId, spanId: late }]))).status).toBe(200);
	await evictDurableObject(stubFor(traceId));
	const reopened = await readTrace(traceId);
	expect(reopened.status).toBe("partial");
	expect(spanIds(reopened.trace)).toEqual([early, late].sort());
	expect(await runDurableObjectAlarm(stubFor(traceId))).toBe(true);
	expect(await storedIds(traceId)).toEqual([early, late].sort());
});

it("keeps the parts pending when R2's metadata cannot be read after a restart, and the next write loses and doubles nothing", async () => {
	const traceId = randomHex(16);
	const ids = [randomHex(8), randomHex(8)];
	expect((await postTraces(jsonRequest(ids.map((spanId) => ({ traceId, spanId }))))).status).toBe(200);
	expect(await runDurableObjectAlarm(stubFor(traceId))).toBe(true);
	bucket.head = async function () {
		throw new Error("head: injected R2 outage (10043)");
	} as R2Bucket["head"];
	await evictDurableObject(stubFor(traceId));
	expect((await readTrace(traceId)).status).toBe("partial");
	bucket.head = head;
	const puts = countPuts(traceId);
	expect(await runDurableObjectAlarm(stubFor(traceId))).toBe(true);
	expect(puts.puts).toBe(1);
	const object = await env.TRACES.get(r2KeyOf(traceId));
	expect(object?.customMetadata?.spanCount).toBe("2");
	expect(spanIds(fromBinary(TracesDataSchema, new Uint8Array(await object!.arrayBuffer())))).toEqual([...ids].sort());
});
