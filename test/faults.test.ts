// Faults injected into the real objects: a trace's object failing inside a multi-trace request,
// the object being reset in the middle of finalization and of a merge, R2 failing under a merge.
import { describe, expect, it } from "vitest";
import { env } from "cloudflare:workers";
import { abortAllDurableObjects, runDurableObjectAlarm } from "cloudflare:test";
import { fromBinary } from "@bufbuild/protobuf";
import { TracesDataSchema } from "../src/gen/opentelemetry/proto/trace/v1/trace_pb";
import { TraceAssembler } from "../src/assembler/trace-object";
import { objectFailure } from "../src/http/respond";
import { finalizeNow, jsonRequest, postTraces, protobufRequest, randomHex, readTrace, r2KeyOf, spanIds, stubFor, methodPatches } from "./helpers";

const { patch, restore } = methodPatches();

async function storedIds(traceId: string): Promise<string[]> {
	const object = await env.TRACES.get(r2KeyOf(traceId));
	return object ? spanIds(fromBinary(TracesDataSchema, new Uint8Array(await object.arrayBuffer()))) : [];
}

describe("faults", () => {
	it("answers 503 when one trace's object fails, and the exporter's retry stores everything exactly once", async () => {
		const traces = Array.from({ length: 8 }, () => randomHex(16));
		const spans = traces.flatMap((traceId) => [{ traceId, spanId: randomHex(8) }, { traceId, spanId: randomHex(8) }]);
		const victim = traces[3]!;
		let failures = 1;
		patch(TraceAssembler.prototype, "ingest", (original) =>
			async function (this: TraceAssembler, address, batch) {
				if (address.traceId === victim && failures-- > 0) throw new Error("injected object failure");
				return original.call(this, address, batch);
			},
		);
		const first = await postTraces(protobufRequest(spans));
		expect(first.status).toBe(503);
		expect(first.headers.get("retry-after")).toBe("1");
		const retry = await postTraces(protobufRequest(spans));
		expect(retry.status).toBe(200);
		for (const traceId of traces) {
			expect(spanIds((await readTrace(traceId)).trace)).toEqual(spans.filter((s) => s.traceId === traceId).map((s) => s.spanId).sort());
		}
	});

	it("answers 503 + Retry-After when a trace's object is overloaded, never 500, and loses no span the retry brings", async () => {
		const traces = Array.from({ length: 6 }, () => randomHex(16));
		const spans = traces.flatMap((traceId) => [{ traceId, spanId: randomHex(8) }, { traceId, spanId: randomHex(8) }]);
		const victim = traces[2]!;
		let failures = 1;
		patch(TraceAssembler.prototype, "ingest", (original) =>
			async function (this: TraceAssembler, address, batch) {
				// What the platform throws when an object sheds load: an error marked `overloaded`.
				if (address.traceId === victim && failures-- > 0) throw Object.assign(new Error("Durable Object is overloaded. Too many requests queued."), { overloaded: true });
				return original.call(this, address, batch);
			},
		);
		const first = await postTraces(jsonRequest(spans));
		expect(first.status).toBe(503);
		expect(first.headers.get("retry-after")).toBe("1");
		expect(await first.text()).toContain("overloaded");
		// The other traces' parts are in their objects' storage already (acknowledged there, kept).
		expect(spanIds((await readTrace(traces[0]!)).trace)).toHaveLength(2);
		const retry = await postTraces(protobufRequest(spans));
		expect(retry.status).toBe(200);
		for (const traceId of traces) {
			expect(spanIds((await readTrace(traceId)).trace)).toEqual(spans.filter((s) => s.traceId === traceId).map((s) => s.spanId).sort());
		}
	});

	it("maps an overloaded object to 503 with Retry-After (the flag the platform sets)", () => {
		const error = Object.assign(new Error("Durable Object is overloaded"), { overloaded: true });
		const mapped = objectFailure(error, "1 of 1 traces could not be stored");
		expect(mapped.status).toBe(503);
		expect(mapped.retryAfterSeconds).toBe(1);
		expect(mapped.message).toContain("overloaded");
	});

	it("loses nothing and duplicates nothing when the object is reset mid-finalization", async () => {
		const traceId = randomHex(16);
		const ids = [randomHex(8), randomHex(8)];
		await postTraces(jsonRequest(ids.map((spanId) => ({ traceId, spanId }))));
		const bucket = Object.getPrototypeOf(env.TRACES) as R2Bucket;
		let release!: () => void;
		const gate = new Promise<void>((r) => (release = r));
		patch(bucket, "put", (original) =>
			async function (this: R2Bucket, ...args: Parameters<R2Bucket["put"]>) {
				await gate;
				return original.apply(this, args);
			} as R2Bucket["put"],
		);
		const alarm = finalizeNow(traceId).catch(() => "aborted");
		await new Promise((r) => setTimeout(r, 30));
		await abortAllDurableObjects();
		release();
		await alarm;
		restore();
		// The write may or may not have landed; the spans are still pending in storage either way.
		const late = randomHex(8);
		await postTraces(jsonRequest([{ traceId, spanId: late }, { traceId, spanId: ids[0]! }]));
		await finalizeNow(traceId);
		expect(await storedIds(traceId)).toEqual([...ids, late].sort());
	});

	it("resumes a merge cut short: the parent fails once, the child's alarm moves the spans later", async () => {
		const parent = randomHex(16);
		const parentSpan = randomHex(8);
		const child = randomHex(16);
		const childSpans = [randomHex(8), randomHex(8)];
		await postTraces(jsonRequest([{ traceId: parent, spanId: parentSpan }]));
		let failures = 1;
		patch(TraceAssembler.prototype, "adopt", (original) =>
			async function (this: TraceAssembler, address, message) {
				if (failures-- > 0) throw new Error("injected parent failure");
				return original.call(this, address, message);
			},
		);
		const res = await postTraces(jsonRequest([
			{ traceId: child, spanId: childSpans[0]!, attributes: { traceparent: `00-${parent}-${parentSpan}-01` } },
			{ traceId: child, spanId: childSpans[1]!, parentSpanId: childSpans[0]! },
		]));
		// The child's spans are durable in the child's object, so the export still succeeds.
		expect(res.status).toBe(200);
		expect(spanIds((await readTrace(parent)).trace)).toEqual([parentSpan]);
		// The child's object is reset too, before its outbox drains: storage carries the merge.
		await abortAllDurableObjects();
		expect(await runDurableObjectAlarm(stubFor(child))).toBe(true);
		expect(spanIds((await readTrace(parent)).trace)).toEqual([parentSpan, ...childSpans].sort());
		await finalizeNow(parent);
		expect(await storedIds(parent)).toEqual([parentSpan, ...childSpans].sort());
	});

	it("moves a finalized child even when R2 fails at first", async () => {
		const parent = randomHex(16);
		const parentSpan = randomHex(8);
		const child = randomHex(16);
		const early = randomHex(8);
		await postTraces(jsonRequest([{ traceId: parent, spanId: parentSpan }, { traceId: child, spanId: early, parentSpanId: randomHex(8) }]));
		await finalizeNow(child);
		const bucket = Object.getPrototypeOf(env.TRACES) as R2Bucket;
		let failures = 2;
		patch(bucket, "get", (original) =>
			async function (this: R2Bucket, ...args: Parameters<R2Bucket["get"]>) {
				if (failures-- > 0) throw new Error("injected R2 outage");
				return original.apply(this, args);
			} as R2Bucket["get"],
		);
		const root = randomHex(8);
		expect((await postTraces(jsonRequest([{ traceId: child, spanId: root, attributes: { traceparent: `00-${parent}-${parentSpan}-01` } }]))).status).toBe(200);
		// Only the child's alarm runs during the outage; it retries until R2 answers again.
		for (let i = 0; i < 5 && failures > 0; i++) await runDurableObjectAlarm(stubFor(child));
		expect(failures).toBeLessThanOrEqual(0);
		await runDurableObjectAlarm(stubFor(child));
		expect(spanIds((await readTrace(parent)).trace)).toEqual([parentSpan, early, root].sort());
		expect((await env.TRACES.head(r2KeyOf(child)))?.customMetadata?.mergedInto).toBe(parent);
	});

	it("one enormous trace does not hold up others: each trace has its own object", async () => {
		const big = randomHex(16);
		let release!: () => void;
		const gate = new Promise<void>((r) => (release = r));
		patch(TraceAssembler.prototype, "ingest", (original) =>
			async function (this: TraceAssembler, address, batch) {
				if (address.traceId === big) await gate;
				return original.call(this, address, batch);
			},
		);
		const payload = "p".repeat(2000);
		const bigDone = postTraces(jsonRequest(Array.from({ length: 900 }, () => ({ traceId: big, spanId: randomHex(8), attributes: { payload } }))));
		let bigFinished = false;
		void bigDone.then(() => (bigFinished = true));
		const started = Date.now();
		for (let i = 0; i < 20; i++) {
			const traceId = randomHex(16);
			expect((await postTraces(jsonRequest([{ traceId, spanId: randomHex(8) }]))).status).toBe(200);
		}
		// Twenty other traces were stored while the big one's object was still busy.
		expect(bigFinished).toBe(false);
		expect(Date.now() - started).toBeLessThan(5_000);
		release();
		expect((await bigDone).status).toBe(200);
		expect(spanIds((await readTrace(big)).trace)).toHaveLength(900);
	});
});
