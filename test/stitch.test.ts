import { describe, expect, it } from "vitest";
import { env, exports } from "cloudflare:workers";
import { fromBinary } from "@bufbuild/protobuf";
import { TracesDataSchema, type Span, type TracesData } from "../src/gen/opentelemetry/proto/trace/v1/trace_pb";
import { TraceAssembler } from "../src/assembler/trace-object";
import { detectStitch } from "../src/stitch/detect";
import { parseTraceparent } from "../src/stitch/traceparent";
import { AUTH, BASE, finalizeNow, getTrace, jsonRequest, postTraces, protobufRequest, randomHex, readTrace, r2KeyOf, type SpanSpec } from "./helpers";
import { splitTrace, type SplitTrace } from "./stitch-fixtures";

const hex = (b: Uint8Array) => [...b].map((x) => x.toString(16).padStart(2, "0")).join("");

function allSpans(trace: TracesData): Span[] {
	return trace.resourceSpans.flatMap((rs) => rs.scopeSpans.flatMap((ss) => ss.spans));
}

function attr(span: Span, key: string): string | undefined {
	const kv = span.attributes.find((a) => a.key === key);
	return kv?.value?.value.case === "stringValue" ? kv.value.value.value : undefined;
}

/** Checks that `trace` is the whole split trace, stitched into one tree under the caller. */
function expectStitched(trace: TracesData, split: SplitTrace): void {
	const spans = allSpans(trace);
	const expected = [...split.parent, ...split.auth, ...split.object];
	expect(spans.map((s) => hex(s.spanId)).sort()).toEqual(expected.map((s) => s.spanId).sort());
	for (const span of spans) expect(hex(span.traceId)).toBe(split.parentTraceId);
	const byId = new Map(spans.map((s) => [hex(s.spanId), s]));
	const authRoot = byId.get(split.auth[0]!.spanId)!;
	const objectRoot = byId.get(split.object[0]!.spanId)!;
	expect(hex(authRoot.parentSpanId)).toBe(split.fetchSpanId);
	expect(hex(objectRoot.parentSpanId)).toBe(split.doSpanId);
	expect(attr(authRoot, "assembler.original_trace_id")).toBe(split.authTraceId);
	expect(attr(byId.get(split.object[1]!.spanId)!, "assembler.original_trace_id")).toBe(split.objectTraceId);
	expect(attr(byId.get(split.parent[0]!.spanId)!, "assembler.original_trace_id")).toBeUndefined();
	// Nothing else changed: the child keeps its own parent, name and attributes.
	expect(hex(byId.get(split.auth[1]!.spanId)!.parentSpanId)).toBe(split.auth[0]!.spanId);
	expect(byId.get(split.auth[1]!.spanId)!.name).toBe("kv_get");
	expect(attr(authRoot, "cloudflare.script_name")).toBe("auth");
	// One tree: every parent id resolves within the trace, and there is a single root.
	const roots = spans.filter((s) => s.parentSpanId.length === 0);
	expect(roots.map((s) => hex(s.spanId))).toEqual([split.parent[0]!.spanId]);
	for (const span of spans) if (span.parentSpanId.length > 0) expect(byId.has(hex(span.parentSpanId))).toBe(true);
}

async function post(spans: SpanSpec[], encoding: "json" | "protobuf" = "json") {
	const res = await postTraces(encoding === "json" ? jsonRequest(spans) : protobufRequest(spans));
	expect(res.status).toBe(200);
}

async function storedTrace(traceId: string): Promise<{ trace: TracesData; metadata: Record<string, string> } | undefined> {
	const object = await env.TRACES.get(r2KeyOf(traceId));
	if (!object) return undefined;
	return { trace: fromBinary(TracesDataSchema, new Uint8Array(await object.arrayBuffer())), metadata: object.customMetadata ?? {} };
}

async function expectRedirect(childId: string, parentId: string) {
	const res = await getTrace(childId);
	expect(res.status).toBe(308);
	expect(res.headers.get("location")).toBe(`/v1/traces/${parentId}`);
}

describe("stitching by a recorded traceparent", () => {
	const orders: [string, (s: SplitTrace) => SpanSpec[][]][] = [
		["parent first", (s) => [s.parent, s.auth, s.object]],
		["children first", (s) => [s.auth, s.object, s.parent]],
		["stitching spans last", (s) => [s.auth.slice(1), s.object.slice(1), s.parent, s.auth.slice(0, 1), s.object.slice(0, 1)]],
		["interleaved, one span per request", (s) => [s.object[1]!, s.parent[2]!, s.auth[0]!, s.parent[0]!, s.object[0]!, s.auth[1]!, s.parent[1]!, s.parent[3]!].map((x) => [x])],
	];
	for (const [label, order] of orders) {
		it(`delivers one trace when spans arrive ${label}`, async () => {
			const split = splitTrace();
			for (const [i, batch] of order(split).entries()) await post(batch, i % 2 ? "protobuf" : "json");
			const { trace, status } = await readTrace(split.parentTraceId);
			expect(status).toBe("partial");
			expectStitched(trace, split);
			await expectRedirect(split.authTraceId, split.parentTraceId);
			await expectRedirect(split.objectTraceId, split.parentTraceId);
			await finalizeNow(split.parentTraceId);
			const stored = await storedTrace(split.parentTraceId);
			expectStitched(stored!.trace, split);
			expect(stored!.metadata.mergedTraces!.split(",").sort()).toEqual([`${split.authTraceId}:traceparent`, `${split.objectTraceId}:traceparent`].sort());
			const read = await getTrace(split.parentTraceId);
			expect(read.headers.get("x-trace-status")).toBe("complete");
			expect(read.headers.get("x-trace-merged")).toContain(`${split.authTraceId}:traceparent`);
		});
	}

	it("moves an already finalized child into the parent; its own R2 object no longer shows as a trace", async () => {
		const split = splitTrace();
		await post([...split.auth.slice(1)]);
		await finalizeNow(split.authTraceId);
		expect((await storedTrace(split.authTraceId))!.metadata.spanCount).toBe("1");
		await post(split.parent);
		await finalizeNow(split.parentTraceId);
		// The stitching span comes last, after both traces were finalized.
		await post([...split.auth.slice(0, 1), ...split.object]);
		await expectRedirect(split.authTraceId, split.parentTraceId);
		expect((await env.TRACES.head(r2KeyOf(split.authTraceId)))!.customMetadata!.mergedInto).toBe(split.parentTraceId);
		const { trace, status } = await readTrace(split.parentTraceId);
		expect(status).toBe("partial");
		expectStitched(trace, split);
		await finalizeNow(split.parentTraceId);
		expectStitched((await storedTrace(split.parentTraceId))!.trace, split);
	});

	it("forwards child spans that arrive after the merge, and de-duplicates retries across it", async () => {
		const split = splitTrace();
		await post(split.parent);
		await post(split.auth.slice(0, 1));
		await post(split.object);
		// Retries of child batches, before and after the parent finalized, plus the late child span.
		await post(split.auth.slice(0, 1), "protobuf");
		await finalizeNow(split.parentTraceId);
		await post(split.auth);
		await post(split.object, "protobuf");
		const { trace } = await readTrace(split.parentTraceId);
		expectStitched(trace, split);
		await finalizeNow(split.parentTraceId);
		expectStitched((await storedTrace(split.parentTraceId))!.trace, split);
	});

	it("sends a merged child's later spans straight to the parent's object, each once", async () => {
		const split = splitTrace();
		await post(split.parent);
		await post(split.auth.slice(0, 1));
		// The router learned the merge from the child's answer; the child's object is not asked again.
		const calls: string[] = [];
		const ingest = TraceAssembler.prototype.ingest;
		TraceAssembler.prototype.ingest = function (this: TraceAssembler, address, batch) {
			calls.push(address.traceId);
			return ingest.call(this, address, batch);
		};
		try {
			await post(split.auth);
			await post(split.auth.slice(1), "protobuf");
		} finally {
			TraceAssembler.prototype.ingest = ingest;
		}
		expect(calls).not.toContain(split.authTraceId);
		await post(split.object);
		const { trace } = await readTrace(split.parentTraceId);
		expectStitched(trace, split);
	});

	it("forwards a late child span even after the child's object forgot the merge", async () => {
		const split = splitTrace();
		await post([...split.parent, ...split.auth.slice(0, 1)]);
		await post(split.object);
		// The child's object frees its storage; only the R2 redirect remembers the merge.
		const { runInDurableObject } = await import("cloudflare:test");
		const { stubFor } = await import("./helpers");
		await runInDurableObject(stubFor(split.authTraceId), async (_i, state) => {
			await state.storage.deleteAll();
		});
		const { evictDurableObject } = await import("cloudflare:test");
		await evictDurableObject(stubFor(split.authTraceId));
		await post(split.auth.slice(1));
		// The late span waits in the child's object until its finalization finds the redirect.
		await finalizeNow(split.authTraceId);
		const { trace } = await readTrace(split.parentTraceId);
		expectStitched(trace, split);
		await expectRedirect(split.authTraceId, split.parentTraceId);
	});

	it("ignores malformed traceparents and ones that point at the span's own trace", async () => {
		const traceId = randomHex(16);
		const other = randomHex(16);
		await post([
			{ traceId, spanId: randomHex(8), attributes: { "http.request.header.traceparent": ["garbage"] } },
			{ traceId, spanId: randomHex(8), attributes: { traceparent: `00-${traceId}-${randomHex(8)}-01` } },
			{ traceId, spanId: randomHex(8), attributes: { traceparent: `ff-${other}-${randomHex(8)}-01` } },
			{ traceId, spanId: randomHex(8), attributes: { traceparent: `00-${"0".repeat(32)}-${randomHex(8)}-01` } },
		]);
		const res = await getTrace(traceId);
		expect(res.status).toBe(200);
		expect(res.headers.get("x-trace-merged")).toBeNull();
	});
});

describe("stitching by a span link", () => {
	it("merges a root span with exactly one link to another trace", async () => {
		const parentTraceId = randomHex(16);
		const producer = randomHex(8);
		const childTraceId = randomHex(16);
		const consumer = randomHex(8);
		await post([{ traceId: parentTraceId, spanId: producer, name: "queue_send", kind: 4 }]);
		await post([{ traceId: childTraceId, spanId: consumer, name: "queue", kind: 5, links: [{ traceId: parentTraceId, spanId: producer }] }]);
		await expectRedirect(childTraceId, parentTraceId);
		const spans = allSpans((await readTrace(parentTraceId)).trace);
		expect(spans).toHaveLength(2);
		expect(hex(spans.find((s) => hex(s.spanId) === consumer)!.parentSpanId)).toBe(producer);
		expect((await getTrace(parentTraceId)).headers.get("x-trace-merged")).toBe(`${childTraceId}:link`);
	});

	it("does not merge a consumer linking to many producers, nor a non-root span", async () => {
		const childTraceId = randomHex(16);
		await post([
			{ traceId: childTraceId, spanId: randomHex(8), links: [{ traceId: randomHex(16), spanId: randomHex(8) }, { traceId: randomHex(16), spanId: randomHex(8) }] },
			{ traceId: childTraceId, spanId: randomHex(8), parentSpanId: randomHex(8), links: [{ traceId: randomHex(16), spanId: randomHex(8) }] },
		]);
		expect((await getTrace(childTraceId)).status).toBe(200);
	});

	it("can be turned off (STITCH_LINKS=false) and the attribute keys configured (STITCH_ATTRIBUTES)", async () => {
		const { encodeJsonRequest } = await import("../src/otlp/json-in");
		const traceId = randomHex(16);
		const parent = randomHex(16);
		let span!: Uint8Array;
		encodeJsonRequest(jsonRequest([{ traceId, spanId: randomHex(8), links: [{ traceId: parent, spanId: randomHex(8) }], attributes: { "x-parent": `00-${parent}-${randomHex(8)}-01` } }]), (_r, _s, bytes) => (span = bytes), () => {});
		const keys = (list: string[]) => list.map((k) => new TextEncoder().encode(k));
		expect(detectStitch(span, { attributeKeys: keys(["traceparent"]), links: true })?.rule).toBe("link");
		expect(detectStitch(span, { attributeKeys: keys(["traceparent"]), links: false })).toBeUndefined();
		expect(detectStitch(span, { attributeKeys: keys(["x-parent"]), links: false })?.rule).toBe("traceparent");
	});
});

describe("POST /v1/stitch", () => {
	const hint = (body: unknown, headers: Record<string, string> = AUTH) =>
		exports.default.fetch(new Request(`${BASE}/v1/stitch`, { method: "POST", headers: { "content-type": "application/json", ...headers }, body: JSON.stringify(body) }));

	it("merges a trace into the one named by the hint, before or after its spans arrive", async () => {
		const parentTraceId = randomHex(16);
		const parentSpan = randomHex(8);
		const early = randomHex(16);
		const late = randomHex(16);
		await post([{ traceId: parentTraceId, spanId: parentSpan }, { traceId: early, spanId: randomHex(8) }]);
		for (const child of [early, late]) {
			const res = await hint({ traceId: child, traceparent: `00-${parentTraceId}-${parentSpan}-01` });
			expect(res.status).toBe(202);
			expect(await res.json()).toEqual({ traceId: child, mergedInto: parentTraceId, parentSpanId: parentSpan });
		}
		await post([{ traceId: late, spanId: randomHex(8) }]);
		const spans = allSpans((await readTrace(parentTraceId)).trace);
		expect(spans).toHaveLength(3);
		expect(spans.filter((s) => hex(s.parentSpanId) === parentSpan)).toHaveLength(2);
		await expectRedirect(late, parentTraceId);
	});

	it("answers 400 with a message for bad hints, 401 without a token, 415 for non-JSON", async () => {
		const child = randomHex(16);
		for (const body of [{}, { traceId: "x", traceparent: `00-${randomHex(16)}-${randomHex(8)}-01` }, { traceId: child, traceparent: "00-bad" }, { traceId: child, traceparent: `00-${child}-${randomHex(8)}-01` }]) {
			const res = await hint(body);
			expect(res.status).toBe(400);
			expect(((await res.json()) as any).message).toMatch(/traceId|traceparent|itself/);
		}
		expect((await hint({ traceId: child }, {})).status).toBe(401);
		const res = await exports.default.fetch(new Request(`${BASE}/v1/stitch`, { method: "POST", headers: { ...AUTH, "content-type": "text/plain" }, body: "x" }));
		expect(res.status).toBe(415);
	});
});

describe("chains, fan-in and cycles", () => {
	it("resolves a chain C into B into A as one trace A", async () => {
		const [a, b, c] = [randomHex(16), randomHex(16), randomHex(16)];
		const [aSpan, bRoot, bChild, cRoot] = [randomHex(8), randomHex(8), randomHex(8), randomHex(8)];
		// C arrives first and merges into B before B knows it belongs to A.
		await post([{ traceId: c, spanId: cRoot, attributes: { traceparent: `00-${b}-${bChild}-01` } }]);
		await post([{ traceId: b, spanId: bChild, parentSpanId: bRoot }]);
		await post([{ traceId: a, spanId: aSpan }]);
		await post([{ traceId: b, spanId: bRoot, attributes: { traceparent: `00-${a}-${aSpan}-01` } }]);
		const spans = allSpans((await readTrace(a)).trace);
		expect(spans.map((s) => hex(s.spanId)).sort()).toEqual([aSpan, bRoot, bChild, cRoot].sort());
		const byId = new Map(spans.map((s) => [hex(s.spanId), s]));
		expect(hex(byId.get(bRoot)!.parentSpanId)).toBe(aSpan);
		expect(hex(byId.get(cRoot)!.parentSpanId)).toBe(bChild);
		expect(attr(byId.get(cRoot)!, "assembler.original_trace_id")).toBe(c);
		expect(attr(byId.get(bChild)!, "assembler.original_trace_id")).toBe(b);
		for (const s of spans) expect(hex(s.traceId)).toBe(a);
		// A late span of C travels the chain.
		const cLate = randomHex(8);
		await post([{ traceId: c, spanId: cLate, parentSpanId: cRoot }]);
		expect(allSpans((await readTrace(a)).trace)).toHaveLength(5);
		// C's id redirects straight to A, the trace that holds everything, not to B.
		await expectRedirect(c, a);
		await finalizeNow(a);
		expect((await storedTrace(a))!.metadata.mergedTraces!.split(",").sort()).toEqual([`${b}:traceparent`, `${c}:traceparent`].sort());
		await expectRedirect(c, a);
		await expectRedirect(b, a);
	});

	it("merges many children into one parent", async () => {
		const parent = randomHex(16);
		const parentSpan = randomHex(8);
		await post([{ traceId: parent, spanId: parentSpan }]);
		const children = Array.from({ length: 12 }, () => randomHex(16));
		await post(children.map((traceId) => ({ traceId, spanId: randomHex(8), attributes: { traceparent: `00-${parent}-${parentSpan}-01` } })));
		const spans = allSpans((await readTrace(parent)).trace);
		expect(spans).toHaveLength(13);
		expect(new Set(spans.map((s) => attr(s, "assembler.original_trace_id")).filter(Boolean))).toEqual(new Set(children));
	});

	it("refuses a cycle, keeps every span exactly once, and says so", async () => {
		const [a, b] = [randomHex(16), randomHex(16)];
		const [aRoot, bRoot] = [randomHex(8), randomHex(8)];
		await post([{ traceId: a, spanId: aRoot, attributes: { traceparent: `00-${b}-${bRoot}-01` } }]);
		await post([{ traceId: b, spanId: bRoot, attributes: { traceparent: `00-${a}-${aRoot}-01` } }]);
		// A merged into B first; B's merge into A would close a loop and is refused.
		await expectRedirect(a, b);
		const res = await getTrace(b);
		expect(res.status).toBe(200);
		expect(res.headers.get("x-trace-refused-merges")).toMatch(new RegExp(`^${a}:cycle`));
		const spans = allSpans((await readTrace(b)).trace);
		expect(spans.map((s) => hex(s.spanId)).sort()).toEqual([aRoot, bRoot].sort());
		const byId = new Map(spans.map((s) => [hex(s.spanId), s]));
		expect(byId.get(bRoot)!.parentSpanId).toHaveLength(0);
		expect(hex(byId.get(aRoot)!.parentSpanId)).toBe(bRoot);
		await finalizeNow(b);
		expect((await storedTrace(b))!.metadata.refusedMerges).toMatch(/cycle/);
	});

	it("refuses a self-referencing hint and a hint that closes a cycle", async () => {
		const [a, b] = [randomHex(16), randomHex(16)];
		const send = (traceId: string, into: string) =>
			exports.default.fetch(new Request(`${BASE}/v1/stitch`, { method: "POST", headers: { "content-type": "application/json", ...AUTH }, body: JSON.stringify({ traceId, traceparent: `00-${into}-${randomHex(8)}-01` }) }));
		await post([{ traceId: a, spanId: randomHex(8) }, { traceId: b, spanId: randomHex(8) }]);
		expect((await send(a, b)).status).toBe(202);
		const res = await send(b, a);
		expect(res.status).toBe(409);
		expect(((await res.json()) as any).message).toMatch(/cycle/);
		expect(allSpans((await readTrace(b)).trace)).toHaveLength(2);
	});
});

describe("traceparent parsing", () => {
	it("follows W3C Trace Context", () => {
		const t = randomHex(16);
		const s = randomHex(8);
		expect(parseTraceparent(`00-${t}-${s}-01`)).toEqual({ traceId: t, spanId: s, flags: 1 });
		expect(parseTraceparent(`00-${t}-${s}-00`)?.flags).toBe(0);
		expect(parseTraceparent(`01-${t}-${s}-01-extra`)?.traceId).toBe(t);
		expect(parseTraceparent(`00-${t}-${s}-01-extra`)).toBeUndefined();
		expect(parseTraceparent(`ff-${t}-${s}-01`)).toBeUndefined();
		expect(parseTraceparent(`00-${t.toUpperCase()}-${s}-01`)).toBeUndefined();
		expect(parseTraceparent(`00-${"0".repeat(32)}-${s}-01`)).toBeUndefined();
		expect(parseTraceparent(`00-${t}-${"0".repeat(16)}-01`)).toBeUndefined();
	});
});
