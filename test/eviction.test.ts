import { describe, expect, it } from "vitest";
import { evictDurableObject } from "cloudflare:test";
import { finalizeNow, jsonRequest, postTraces, protobufRequest, randomHex, readTrace, spanIds, stubFor } from "./helpers";

describe("eviction and restart", () => {
	it("loses nothing acknowledged when the object is evicted between batches", async () => {
		const traceId = randomHex(16);
		const ids = [randomHex(8), randomHex(8), randomHex(8)];
		await postTraces(jsonRequest([{ traceId, spanId: ids[0]! }]));
		await evictDurableObject(stubFor(traceId));
		await postTraces(protobufRequest([{ traceId, spanId: ids[1]!, service: "b" }]));
		await evictDurableObject(stubFor(traceId));
		// A retry of the first batch after the restart is still recognised as a duplicate.
		await postTraces(jsonRequest([{ traceId, spanId: ids[0]! }, { traceId, spanId: ids[2]! }]));
		await evictDurableObject(stubFor(traceId));
		const open = await readTrace(traceId);
		expect(spanIds(open.trace)).toEqual([...ids].sort());
		expect(open.trace.resourceSpans).toHaveLength(2);
		expect(await finalizeNow(traceId)).toBe(true);
		await evictDurableObject(stubFor(traceId));
		const done = await readTrace(traceId);
		expect(done.status).toBe("complete");
		expect(spanIds(done.trace)).toEqual([...ids].sort());
	});

	it("keeps the finalization alarm across an eviction", async () => {
		const traceId = randomHex(16);
		await postTraces(jsonRequest([{ traceId, spanId: randomHex(8) }]));
		await evictDurableObject(stubFor(traceId));
		expect(await finalizeNow(traceId)).toBe(true);
		expect((await readTrace(traceId)).status).toBe("complete");
	});
});
