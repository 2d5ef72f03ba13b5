import { describe, expect, it } from "vitest";
import { finalizeNow, getTrace, jsonRequest, postTraces, randomHex } from "./helpers";

describe("GET /v1/traces/{traceId}", () => {
	it("answers 400 for a malformed id and 404 with a JSON error for an unknown trace", async () => {
		for (const bad of ["xyz", "0".repeat(32), "a".repeat(31), "g".repeat(32)]) {
			const res = await getTrace(bad);
			expect(res.status, bad).toBe(400);
			expect(((await res.json()) as any).message).toMatch(/invalid trace id/);
		}
		const res = await getTrace(randomHex(16));
		expect(res.status).toBe(404);
		expect(res.headers.get("content-type")).toBe("application/json");
		expect(((await res.json()) as any).message).toMatch(/not found/);
	});

	it("serves OTLP JSON with hex ids by default, any case of the id in the URL", async () => {
		const traceId = randomHex(16);
		const spanId = randomHex(8);
		const parent = randomHex(8);
		await postTraces(jsonRequest([{ traceId, spanId, parentSpanId: parent, name: "x", kind: 3, links: [{ traceId: randomHex(16), spanId: parent }] }]));
		for (const id of [traceId, traceId.toUpperCase()]) {
			const res = await getTrace(id);
			expect(res.status).toBe(200);
			expect(res.headers.get("x-trace-status")).toBe("partial");
			const body = (await res.json()) as any;
			const span = body.resourceSpans[0].scopeSpans[0].spans[0];
			expect(span).toMatchObject({ traceId, spanId, parentSpanId: parent, name: "x", kind: 3 });
			expect(span.links[0].spanId).toBe(parent);
			expect(body.resourceSpans[0].scopeSpans[0].scope).toEqual({ name: "test-scope", version: "1.0.0" });
		}
		await finalizeNow(traceId);
		const res = await getTrace(traceId);
		expect(res.headers.get("x-trace-status")).toBe("complete");
		expect(((await res.json()) as any).resourceSpans[0].scopeSpans[0].spans[0].spanId).toBe(spanId);
	});

	it("does not create storage for a trace that is only read", async () => {
		const { runInDurableObject } = await import("cloudflare:test");
		const { stubFor } = await import("./helpers");
		const traceId = randomHex(16);
		expect((await getTrace(traceId)).status).toBe(404);
		const tables = await runInDurableObject(stubFor(traceId), (_i, state) => state.storage.sql.exec("SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'parts'").toArray());
		expect(tables).toEqual([]);
	});
});
