// The test environment lowers MAX_SPANS_PER_TRACE to 1000 and MAX_TRACE_BYTES to 4 MiB (vitest.config.ts).
import { describe, expect, it } from "vitest";
import { env } from "cloudflare:workers";
import { finalizeNow, getTrace, jsonRequest, postTraces, randomHex, readTrace, r2KeyOf, spanIds, storedSpanIdentities, stubFor } from "./helpers";

describe("per-trace limits", () => {
	it("stores a part larger than a SQLite row (2 MB) in several rows, whole after an eviction", async () => {
		const traceId = randomHex(16);
		const payload = "y".repeat(100_000);
		const spans = Array.from({ length: 30 }, (_, i) => ({ traceId, spanId: randomHex(8), service: `svc-${i % 3}`, attributes: { payload } }));
		expect((await postTraces(jsonRequest(spans))).status).toBe(200);
		const { evictDurableObject } = await import("cloudflare:test");
		await evictDurableObject(stubFor(traceId));
		expect(spanIds((await readTrace(traceId)).trace)).toEqual(spans.map((s) => s.spanId).sort());
		// A retry after the eviction is recognised span by span.
		const retry = (await (await postTraces(jsonRequest(spans.slice(0, 5)))).json()) as any;
		expect(retry.partialSuccess).toBeUndefined();
		// Judged on the part rows (several per part here), where a span stored twice would show.
		const stored = await storedSpanIdentities(traceId);
		expect(stored).toHaveLength(30);
		expect(new Set(stored).size).toBe(30);
		await finalizeNow(traceId);
		expect(spanIds((await readTrace(traceId)).trace)).toHaveLength(30);
	});

	it("rejects spans beyond MAX_SPANS_PER_TRACE with partial success and says the trace is truncated", async () => {
		const traceId = randomHex(16);
		const first = Array.from({ length: 900 }, () => ({ traceId, spanId: randomHex(8) }));
		expect(((await (await postTraces(jsonRequest(first))).json()) as any).partialSuccess).toBeUndefined();
		const more = Array.from({ length: 300 }, () => ({ traceId, spanId: randomHex(8) }));
		const res = await postTraces(jsonRequest(more));
		expect(res.status).toBe(200);
		const body = (await res.json()) as any;
		expect(body.partialSuccess.rejectedSpans).toBe("200");
		expect(body.partialSuccess.errorMessage).toMatch(/MAX_SPANS_PER_TRACE 1000/);
		// A retry of already stored spans is not counted against the limit again.
		expect(((await (await postTraces(jsonRequest(first.slice(0, 10)))).json()) as any).partialSuccess).toBeUndefined();
		const read = await getTrace(traceId);
		expect(read.headers.get("x-trace-dropped-spans")).toBe("200");
		await finalizeNow(traceId);
		const head = await env.TRACES.head(r2KeyOf(traceId));
		expect(head?.customMetadata).toMatchObject({ spanCount: "1000", truncated: "true", droppedSpans: "200" });
		expect((await getTrace(traceId)).headers.get("x-trace-dropped-spans")).toBe("200");
		expect(spanIds((await readTrace(traceId)).trace)).toHaveLength(1000);
	});

	it("rejects spans beyond MAX_TRACE_BYTES, other traces in the same request unaffected", async () => {
		const big = randomHex(16);
		const small = randomHex(16);
		const payload = "x".repeat(100_000);
		const spans = [
			...Array.from({ length: 50 }, () => ({ traceId: big, spanId: randomHex(8), attributes: { payload } })),
			{ traceId: small, spanId: randomHex(8) },
		];
		const res = await postTraces(jsonRequest(spans));
		const body = (await res.json()) as any;
		expect(Number(body.partialSuccess.rejectedSpans)).toBeGreaterThanOrEqual(8);
		expect(body.partialSuccess.errorMessage).toMatch(/MAX_TRACE_BYTES 4194304/);
		expect(spanIds((await readTrace(small)).trace)).toHaveLength(1);
		expect(spanIds((await readTrace(big)).trace).length).toBeLessThanOrEqual(42);
	});
});
