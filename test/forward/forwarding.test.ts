// Tail sampling and forwarding inside workerd: the trace objects, the real local queue and its
// consumer, and a receiver Worker standing in for an OTLP backend (vitest.config.ts, "forward").
import { describe, expect, it } from "vitest";
import { env, exports } from "cloudflare:workers";
import { evictDurableObject, runInDurableObject } from "cloudflare:test";
import { BASE, AUTH, finalizeNow, getTrace, jsonRequest, postTraces, randomHex, stubFor, type SpanSpec } from "../helpers";
import { keepsOneIn } from "../../src/forward/deterministic";

interface Received {
	answered: number;
	apiKey: string | null;
	contentType: string | null;
	spans: { traceId: string; spanId: string; sampleRate?: string; rule?: string }[];
}

const receiver = () => (env as unknown as { RECEIVER: Fetcher }).RECEIVER;

async function received(traceId: string): Promise<Received[]> {
	const all = (await (await receiver().fetch("http://receiver/received")).json()) as Received[];
	return all.filter((r) => r.spans.some((s) => s.traceId === traceId));
}

async function script(traceId: string, answers: { status: number; retryAfter?: number; body?: string; rejected?: number }[]): Promise<void> {
	await receiver().fetch("http://receiver/script", { method: "POST", body: JSON.stringify({ [traceId]: answers }) });
}

/** Waits until `ready` holds for the trace's requests, then a little longer to see nothing more arrives. */
async function settle(traceId: string, ready: (requests: Received[]) => boolean, quietMs = 2_500): Promise<Received[]> {
	const deadline = Date.now() + 20_000;
	for (;;) {
		const requests = await received(traceId);
		if (ready(requests)) break;
		if (Date.now() > deadline) throw new Error(`trace ${traceId}: receiver has ${JSON.stringify(requests)}`);
		await new Promise((r) => setTimeout(r, 200));
	}
	await new Promise((r) => setTimeout(r, quietMs));
	return received(traceId);
}

async function send(spans: SpanSpec[]): Promise<void> {
	const response = await postTraces(jsonRequest(spans));
	expect(response.status).toBe(200);
}

const spanIdsOf = (requests: Received[]) => requests.flatMap((r) => r.spans.map((s) => s.spanId)).sort();

/** A trace the "checkout" rule keeps (rate 1): a root and `children` children. */
function checkoutTrace(traceId: string, children = 2): SpanSpec[] {
	const root = randomHex(8);
	return [{ traceId, spanId: root, name: "POST /checkout", attributes: { "http.route": "/checkout" } }, ...Array.from({ length: children }, () => ({ traceId, spanId: randomHex(8), parentSpanId: root, name: "db" }))];
}

async function status(): Promise<{ destinations: { name: string; sent: { traces: number; spans: number }; retried: { traces: number }; deadLettered: { traces: number; spans: number }; rejectedSpans: number }[]; rules: { name: string; kept: number; dropped: number }[] }> {
	const response = await exports.default.fetch(new Request(`${BASE}/api/status/forwarding`, { headers: AUTH }));
	expect(response.status).toBe(200);
	return response.json();
}

describe("forwarding", () => {
	it("forwards a kept trace whole and once, every span with SampleRate and sampling.rule, with the secret's headers", async () => {
		const traceId = randomHex(16);
		const spans = checkoutTrace(traceId, 3);
		await send(spans);
		await finalizeNow(traceId);
		const requests = await settle(traceId, (r) => r.length >= 1);
		expect(requests).toHaveLength(1);
		expect(spanIdsOf(requests)).toEqual(spans.map((s) => s.spanId).sort());
		expect(requests[0]!.spans.every((s) => s.sampleRate === "1" && s.rule === "checkout")).toBe(true);
		expect(requests[0]!.apiKey).toBe("secret,with-comma");
		expect(requests[0]!.contentType).toBe("application/json");
		const read = await getTrace(traceId);
		expect(read.headers.get("x-trace-sampling")).toBe("kept; rule=checkout; rate=1");
		await read.body?.cancel();
	});

	it("applies the rules in order, first match wins, and never forwards a dropped trace", async () => {
		const both = randomHex(16);
		const health = randomHex(16);
		// An error on a /health span: "errors" comes before "health", so it is kept.
		await send([{ traceId: both, spanId: randomHex(8), attributes: { "http.route": "/health" }, statusCode: 2 }]);
		await send([{ traceId: health, spanId: randomHex(8), attributes: { "http.route": "/health" } }]);
		await finalizeNow(both);
		await finalizeNow(health);
		const kept = await settle(both, (r) => r.length >= 1);
		expect(kept[0]!.spans[0]!.rule).toBe("errors");
		expect(await received(health)).toEqual([]);
		const read = await getTrace(health);
		expect(read.headers.get("x-trace-sampling")).toBe("dropped; rule=health; rate=0");
		await read.body?.cancel();
		// Late spans of the dropped trace, also after an eviction: never forwarded.
		await evictDurableObject(stubFor(health));
		await send([{ traceId: health, spanId: randomHex(8), statusCode: 2 }]);
		await finalizeNow(health);
		await new Promise((r) => setTimeout(r, 2_500));
		expect(await received(health)).toEqual([]);
	});

	it("forwards only the new spans of a kept trace that reopens: after an eviction, and after the object forgot it (R2 metadata)", async () => {
		const traceId = randomHex(16);
		const spans = checkoutTrace(traceId, 1);
		await send(spans);
		await finalizeNow(traceId);
		await settle(traceId, (r) => r.length >= 1, 500);
		// Reopened by a late span (and an exporter's retry of one the trace has): only the new one goes.
		const late1 = { traceId, spanId: randomHex(8), parentSpanId: spans[0]!.spanId, name: "late" };
		await send([late1, spans[1]!]);
		await finalizeNow(traceId);
		let requests = await settle(traceId, (r) => r.length >= 2, 500);
		expect(requests[1]!.spans.map((s) => s.spanId)).toEqual([late1.spanId]);
		// Evicted (memory lost): the decision and what was sent come back from storage.
		await evictDurableObject(stubFor(traceId));
		const late2 = { traceId, spanId: randomHex(8), parentSpanId: spans[0]!.spanId, name: "late" };
		await send([late2]);
		await finalizeNow(traceId);
		requests = await settle(traceId, (r) => r.length >= 3, 500);
		expect(requests[2]!.spans.map((s) => s.spanId)).toEqual([late2.spanId]);
		// Storage freed, as retention does: R2's metadata holds the decision, R2's copy the spans sent.
		await runInDurableObject(stubFor(traceId), async (_instance, state) => {
			state.storage.sql.exec("DROP TABLE parts");
			await state.storage.deleteAll();
		});
		await evictDurableObject(stubFor(traceId));
		const late3 = { traceId, spanId: randomHex(8), parentSpanId: spans[0]!.spanId, name: "late" };
		await send([late3, spans[0]!, late1]);
		await finalizeNow(traceId);
		requests = await settle(traceId, (r) => r.length >= 4);
		expect(requests).toHaveLength(4);
		expect(requests[3]!.spans.map((s) => s.spanId)).toEqual([late3.spanId]);
		expect(requests[3]!.spans[0]!.rule).toBe("checkout");
		// Every span arrived exactly once in all.
		expect(spanIdsOf(requests)).toEqual([...spans.map((s) => s.spanId), late1.spanId, late2.spanId, late3.spanId].sort());
	});

	it("forwards a child that joins after its parent was forwarded under the parent's id, only the child's spans", async () => {
		const parent = randomHex(16);
		const spans = checkoutTrace(parent, 1);
		await send(spans);
		await finalizeNow(parent);
		await settle(parent, (r) => r.length >= 1, 500);
		const child = randomHex(16);
		const childRoot = randomHex(8);
		const childWork = randomHex(8);
		await send([
			{ traceId: child, spanId: childRoot, name: "cart", attributes: { "http.request.header.traceparent": `00-${parent}-${spans[1]!.spanId}-01` } },
			{ traceId: child, spanId: childWork, parentSpanId: childRoot, name: "load" },
		]);
		await finalizeNow(parent);
		const requests = await settle(parent, (r) => r.length >= 2);
		expect(requests).toHaveLength(2);
		expect(requests[1]!.spans.map((s) => [s.traceId, s.rule]).sort()).toEqual([[parent, "checkout"], [parent, "checkout"]]);
		expect(requests[1]!.spans.map((s) => s.spanId).sort()).toEqual([childRoot, childWork].sort());
		expect(await received(child)).toEqual([]);
	});

	it("sends a trace too big for a queue message through an R2 piece, still as one request", async () => {
		const traceId = randomHex(16);
		const spans = checkoutTrace(traceId, 799).map((span, i) => (i === 0 ? span : { ...span, attributes: { "db.statement": `SELECT * FROM items WHERE id = ${i} -- ${"x".repeat(200)}` } }));
		for (let i = 0; i < spans.length; i += 200) await send(spans.slice(i, i + 200));
		await finalizeNow(traceId);
		const requests = await settle(traceId, (r) => r.length >= 1);
		expect(requests).toHaveLength(1);
		expect(spanIdsOf(requests)).toEqual(spans.map((s) => s.spanId).sort());
		const pieces = await env.TRACES.list({ prefix: `forward/${traceId}/` });
		expect(pieces.objects).toHaveLength(1);
		expect(pieces.objects[0]!.size).toBeGreaterThan(120_000);
	});

	it("does not send again when the R2 write fails after the spans were queued (the retry only writes)", async () => {
		const traceId = randomHex(16);
		await send(checkoutTrace(traceId, 2));
		const bucket = Object.getPrototypeOf(env.TRACES) as R2Bucket;
		const put = bucket.put;
		bucket.put = async function (this: R2Bucket, ...args: Parameters<R2Bucket["put"]>) {
			if (String(args[0]).includes(traceId)) throw new Error("injected R2 failure");
			return put.apply(this, args);
		} as R2Bucket["put"];
		try {
			await finalizeNow(traceId);
		} finally {
			bucket.put = put;
		}
		expect(await env.TRACES.head(`traces/${traceId}.binpb`)).toBeNull();
		await evictDurableObject(stubFor(traceId));
		await finalizeNow(traceId);
		expect(await env.TRACES.head(`traces/${traceId}.binpb`)).not.toBeNull();
		const requests = await settle(traceId, (r) => r.length >= 1);
		expect(requests).toHaveLength(1);
		expect(requests[0]!.spans).toHaveLength(3);
	});

	it("loses nothing when the queue refuses: the finalization is retried whole and the trace arrives once", async () => {
		const traceId = randomHex(16);
		await send(checkoutTrace(traceId, 2));
		const queue = Object.getPrototypeOf(env.FORWARD_QUEUE!) as Queue;
		const sendBatch = queue.sendBatch;
		queue.sendBatch = async function () {
			throw new Error("injected queue failure");
		} as Queue["sendBatch"];
		try {
			await finalizeNow(traceId);
		} finally {
			queue.sendBatch = sendBatch;
		}
		// Nothing was recorded: no R2 write, the trace still open.
		expect(await env.TRACES.head(`traces/${traceId}.binpb`)).toBeNull();
		await finalizeNow(traceId);
		const requests = await settle(traceId, (r) => r.length >= 1);
		expect(requests).toHaveLength(1);
		expect(requests[0]!.spans).toHaveLength(3);
	});

	it("retries a 503 after its Retry-After and delivers once; counts it as retried, then sent", async () => {
		const traceId = randomHex(16);
		await script(traceId, [{ status: 503, retryAfter: 1 }]);
		const before = await status();
		await send(checkoutTrace(traceId, 1));
		await finalizeNow(traceId);
		const requests = await settle(traceId, (r) => r.some((x) => x.answered === 200));
		expect(requests.map((r) => r.answered)).toEqual([503, 200]);
		const after = await status();
		const d = (s: typeof before) => s.destinations.find((x) => x.name === "receiver")!;
		expect(d(after).retried.traces - d(before).retried.traces).toBe(1);
		expect(d(after).sent.traces - d(before).sent.traces).toBe(1);
		expect(d(after).sent.spans - d(before).sent.spans).toBe(2);
	});

	it("dead-letters a 400 with the status and the destination's reason, without retrying it", async () => {
		const traceId = randomHex(16);
		await script(traceId, [{ status: 400, body: '{"code":3,"message":"bad data: span too old"}' }]);
		await send(checkoutTrace(traceId, 1));
		await finalizeNow(traceId);
		const requests = await settle(traceId, (r) => r.length >= 1);
		expect(requests.map((r) => r.answered)).toEqual([400]);
		const deadline = Date.now() + 10_000;
		type Letter = { traceId: string; status: number; reason: string; destination: string; hasPayload: boolean };
		let letter: Letter | undefined;
		while (!letter && Date.now() < deadline) {
			const letters = (await (await receiver().fetch("http://receiver/dead-letters")).json()) as Letter[];
			letter = letters.find((l) => l.traceId === traceId);
			if (!letter) await new Promise((r) => setTimeout(r, 200));
		}
		expect(letter).toMatchObject({ status: 400, destination: "receiver", hasPayload: true });
		expect(letter!.reason).toContain("bad data: span too old");
		const d = (await status()).destinations.find((x) => x.name === "receiver")!;
		expect(d.deadLettered.traces).toBeGreaterThanOrEqual(1);
	});

	it("counts a partial success and does not retry it", async () => {
		const traceId = randomHex(16);
		await script(traceId, [{ status: 200, rejected: 2 }]);
		const before = (await status()).destinations[0]!.rejectedSpans;
		await send(checkoutTrace(traceId, 1));
		await finalizeNow(traceId);
		expect(await settle(traceId, (r) => r.length >= 1)).toHaveLength(1);
		expect((await status()).destinations[0]!.rejectedSpans - before).toBe(2);
	});

	it("counts decisions per rule", async () => {
		const rules = (await status()).rules;
		expect(rules.find((r) => r.name === "checkout")!.kept).toBeGreaterThan(0);
		expect(rules.find((r) => r.name === "health")!.dropped).toBeGreaterThan(0);
	});

	it("keeps 1 in N by trace id: within statistical bounds on 2,000 ids, and the same answer every time", () => {
		const ids = Array.from({ length: 2_000 }, () => randomHex(16));
		for (const rate of [4, 10]) {
			const kept = ids.filter((id) => keepsOneIn(id, rate));
			const mean = ids.length / rate;
			const sd = Math.sqrt(ids.length * (1 / rate) * (1 - 1 / rate));
			expect(Math.abs(kept.length - mean)).toBeLessThan(4 * sd);
			expect(ids.filter((id) => keepsOneIn(id, rate))).toEqual(kept);
		}
		expect(keepsOneIn("0af7651916cd43dd8448eb211c80319c", 1)).toBe(true);
	});
});
