// R2 write failures at finalization: a transient one is retried until R2 answers (no span lost),
// a permanent one (a 4xx: the same write fails every time) is tried a bounded number of times,
// then given up, marked and counted, the trace still readable from its object.
import { afterEach, expect, it } from "vitest";
import { env } from "cloudflare:workers";
import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { enableUsageCounting, usageSnapshot } from "../src/metering/usage";
import { getTrace, jsonRequest, postTraces, randomHex, readTrace, r2KeyOf, spanIds, stubFor } from "./helpers";

const bucket = Object.getPrototypeOf(env.TRACES) as R2Bucket;
const put = bucket.put;
afterEach(() => void (bucket.put = put));

/** Makes R2 puts of `traceId` fail with `message` while `failing()`; returns how many were tried. */
function failPuts(traceId: string, message: string, failing: () => boolean): { tried: number } {
	const seen = { tried: 0 };
	bucket.put = async function (this: R2Bucket, ...args: Parameters<R2Bucket["put"]>) {
		if (args[0] === r2KeyOf(traceId)) {
			seen.tried++;
			// The R2 binding's own error shape (seen in workerd): "put: <message> (<code>)".
			if (failing()) throw new Error(message);
		}
		return put.apply(this, args);
	} as R2Bucket["put"];
	return seen;
}

/** The object's state row, as storage holds it. */
function storedState(traceId: string): Promise<Record<string, unknown>> {
	return runInDurableObject(stubFor(traceId), (_instance, state) => JSON.parse(state.storage.sql.exec("SELECT state FROM parts WHERE seq = 0").one().state as string));
}

it("keeps retrying a transient R2 failure past the platform's six alarm retries, and then writes every span", async () => {
	const traceId = randomHex(16);
	const ids = [randomHex(8), randomHex(8)];
	expect((await postTraces(jsonRequest(ids.map((spanId) => ({ traceId, spanId }))))).status).toBe(200);
	let failures = 8;
	const puts = failPuts(traceId, "put: We encountered an internal connectivity issue. (10043)", () => failures-- > 0);
	for (let i = 0; i < 9; i++) expect(await runDurableObjectAlarm(stubFor(traceId))).toBe(true);
	expect(puts.tried).toBe(9);
	const stored = await env.TRACES.get(r2KeyOf(traceId));
	expect(stored?.customMetadata?.spanCount).toBe("2");
});

it("gives up a permanent R2 failure after three attempts: marked, counted, readable from the object, never retried again", async () => {
	enableUsageCounting({ COUNT_USAGE: "true" });
	const givenUpBefore = usageSnapshot().r2WritesGivenUp;
	const traceId = randomHex(16);
	const ids = [randomHex(8), randomHex(8)];
	expect((await postTraces(jsonRequest(ids.map((spanId) => ({ traceId, spanId }))))).status).toBe(200);
	const puts = failPuts(traceId, "put: Your metadata headers exceed the maximum allowed metadata size. (10012)", () => true);
	// However often the alarm runs, R2 sees three writes.
	for (let i = 0; i < 8; i++) await runDurableObjectAlarm(stubFor(traceId));
	expect(puts.tried).toBe(3);
	expect(usageSnapshot().r2WritesGivenUp - givenUpBefore).toBe(1);
	const state = await storedState(traceId);
	expect(state.unwritten).toMatchObject({ reason: "R2 10012 metadata too large" });
	expect(state.failedAttempts).toBeUndefined();
	// The retention alarm is what is left: set about RETENTION_MS ahead.
	const alarm = await runInDurableObject(stubFor(traceId), (_instance, s) => s.storage.getAlarm());
	expect(alarm).toBeGreaterThan(Date.now() + 3_600_000);
	const read = await readTrace(traceId);
	expect(read.status).toBe("partial");
	expect(spanIds(read.trace)).toEqual([...ids].sort());
	expect((await getTrace(traceId)).headers.get("x-trace-unwritten")).toBe("R2 10012 metadata too large");
	expect(await env.TRACES.head(r2KeyOf(traceId))).toBeNull();

	// A later span tries the write again (as boundedly); once R2 takes it, the mark goes.
	bucket.put = put;
	const late = randomHex(8);
	expect((await postTraces(jsonRequest([{ traceId, spanId: late }])))).toHaveProperty("status", 200);
	await runDurableObjectAlarm(stubFor(traceId));
	expect((await env.TRACES.get(r2KeyOf(traceId)))?.customMetadata?.spanCount).toBe("3");
	expect((await storedState(traceId)).unwritten).toBeUndefined();
});
