import { describe, expect, it } from "vitest";
import { finalizeNow, jsonRequest, postTraces, protobufRequest, randomHex, readTrace, spanIds } from "./helpers";

describe("exporter retries", () => {
	it("stores a retried request once, in either encoding", async () => {
		const traceId = randomHex(16);
		const spans = Array.from({ length: 20 }, () => ({ traceId, spanId: randomHex(8) }));
		expect((await postTraces(jsonRequest(spans))).status).toBe(200);
		expect((await postTraces(jsonRequest(spans))).status).toBe(200);
		expect((await postTraces(protobufRequest(spans))).status).toBe(200);
		const { trace } = await readTrace(traceId);
		expect(spanIds(trace)).toHaveLength(20);
	});

	it("does not duplicate a span retried after finalization", async () => {
		const traceId = randomHex(16);
		const spans = [{ traceId, spanId: randomHex(8) }];
		await postTraces(jsonRequest(spans));
		await finalizeNow(traceId);
		await postTraces(jsonRequest(spans));
		const { status, trace } = await readTrace(traceId);
		expect(status).toBe("complete");
		expect(spanIds(trace)).toHaveLength(1);
	});

	it("de-duplicates within one request", async () => {
		const traceId = randomHex(16);
		const span = { traceId, spanId: randomHex(8) };
		await postTraces(jsonRequest([span, span, span]));
		expect(spanIds((await readTrace(traceId)).trace)).toHaveLength(1);
	});
});
