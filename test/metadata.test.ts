// R2 custom metadata within R2's byte limit whatever the names (issue 18, security #3), and a
// trace's merge list bounded however many traces merge into it (security #4).
import { describe, expect, it } from "vitest";
import { env } from "cloudflare:workers";
import { runInDurableObject } from "cloudflare:test";
import { clipToBytes, metadataBytes, metadataSize, R2_METADATA_LIMIT_BYTES, summaryMetadata } from "../src/assembler/summary";
import { MAX_LISTED_MERGES } from "../src/assembler/merge";
import type { TraceAssembler } from "../src/assembler/trace-object";
import { finalizeNow, getTrace, jsonRequest, postTraces, r2KeyOf, randomHex, stubFor } from "./helpers";

const utf8 = (text: string) => new TextEncoder().encode(text).length;

describe("R2 metadata in bytes", () => {
	it("finalizes a trace with CJK and emoji root and service names and 80 merged children (it retried for ever)", { timeout: 60_000 }, async () => {
		const parent = randomHex(16);
		const parentSpan = randomHex(8);
		const longName = "订单支付网关服务🚀".repeat(40);
		let res = await postTraces(jsonRequest([{ traceId: parent, spanId: parentSpan, name: `结账流程😀${longName}`, service: `前端服务-${longName}` }]));
		expect(res.status).toBe(200);
		const children = Array.from({ length: 80 }, () => randomHex(16));
		res = await postTraces(
			jsonRequest(children.map((traceId, i) => ({ traceId, spanId: randomHex(8), service: `库存服务${i}-${"数据库连接池🔥".repeat(12)}`, attributes: { traceparent: `00-${parent}-${parentSpan}-01` } }))),
		);
		expect(res.status).toBe(200);
		await finalizeNow(parent);
		const object = await env.TRACES.head(r2KeyOf(parent));
		expect(object, "the R2 write failed (metadata over the limit) and is being retried").not.toBeNull();
		const metadata = object!.customMetadata!;
		expect(metadataSize(metadata)).toBeLessThanOrEqual(R2_METADATA_LIMIT_BYTES);
		let bytes = 0;
		for (const [key, value] of Object.entries(metadata)) bytes += utf8(key) + utf8(value);
		expect(bytes).toBeLessThanOrEqual(R2_METADATA_LIMIT_BYTES);
		expect(metadata.spanCount).toBe("81");
		expect(metadata.mergedTraceCount).toBe("80");
		expect(metadata.rootSpanName!.startsWith("结账流程😀")).toBe(true);
		// Cut on whole characters: no lone surrogate (it would be U+FFFD on the wire).
		expect(metadata.rootSpanName).not.toMatch(/[\ud800-\udbff](?![\udc00-\udfff])/);
	});

	it("writes minimal metadata rather than failing when even the fixed fields cannot fit", () => {
		const summary = { spanCount: 3, rootSpanName: "😀".repeat(5000), serviceNames: Array.from({ length: 500 }, (_, i) => `服务${i}`.repeat(30)), startTimeUnixNano: 1n, endTimeUnixNano: 2n, hasError: false, mergedTraceCount: 0 };
		const refusals = Array.from({ length: 20 }, () => ({ intoTraceId: randomHex(16), reason: "原因".repeat(500) }));
		const metadata = summaryMetadata(summary, randomHex(16), [], refusals);
		expect(metadataSize(metadata)).toBeLessThanOrEqual(R2_METADATA_LIMIT_BYTES);
		expect(utf8(metadata.rootSpanName!)).toBeLessThanOrEqual(512);
		// A string with a character above U+00FF costs 2 bytes per UTF-16 unit locally, UTF-8 in R2: the larger.
		expect(clipToBytes("a😀b", 6)).toBe("a😀");
		expect(clipToBytes("a😀b", 5)).toBe("a");
		expect(metadataBytes("é")).toBe(2);
		expect(metadataBytes("x".repeat(10) + "中")).toBe(22);
	});
});

describe("a trace's merge list", () => {
	it(`lists the first ${MAX_LISTED_MERGES} traces merged in and counts them all, in headers, state and R2`, { timeout: 60_000 }, async () => {
		const parent = randomHex(16);
		const parentSpan = randomHex(8);
		await postTraces(jsonRequest([{ traceId: parent, spanId: parentSpan }]));
		const children = Array.from({ length: MAX_LISTED_MERGES + 30 }, () => randomHex(16));
		const res = await postTraces(jsonRequest(children.map((traceId) => ({ traceId, spanId: randomHex(8), attributes: { traceparent: `00-${parent}-${parentSpan}-01` } }))));
		expect(res.status).toBe(200);
		const read = await getTrace(parent);
		expect(read.status).toBe(200);
		expect(read.headers.get("x-trace-merged")!.split(",")).toHaveLength(MAX_LISTED_MERGES);
		expect(read.headers.get("x-trace-merged-count")).toBe(String(children.length));
		const state = await runInDurableObject(stubFor(parent), (_: TraceAssembler, s) => JSON.parse(s.storage.sql.exec<{ state: string }>("SELECT state FROM parts WHERE seq = 0").one().state));
		expect(state.merges).toHaveLength(MAX_LISTED_MERGES);
		await finalizeNow(parent);
		const object = await env.TRACES.head(r2KeyOf(parent));
		expect(object!.customMetadata!.mergedTraceCount).toBe(String(children.length));
		const complete = await getTrace(parent);
		expect(complete.headers.get("x-trace-merged-count")).toBe(String(children.length));
		expect(complete.headers.get("x-trace-merged")!.length).toBeLessThan(8192);
	});
});
