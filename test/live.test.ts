import { describe, expect, it } from "vitest";
import { exports } from "cloudflare:workers";
import { evictDurableObject } from "cloudflare:test";
import { MAX_LIVE_SUBSCRIBERS } from "../src/live/subscribers";
import { AUTH, BASE, finalizeNow, jsonRequest, postTraces, randomHex, stubFor } from "./helpers";

interface Frame {
	type: string;
	[key: string]: unknown;
}

/** A subscriber: a real WebSocket through the Worker, with its frames queued for the test. */
async function subscribe(traceId: string, headers: Record<string, string> = AUTH) {
	const res = await exports.default.fetch(new Request(`${BASE}/v1/traces/${traceId}/live`, { headers: { upgrade: "websocket", ...headers } }));
	if (res.status !== 101) throw new Error(`subscribe: ${res.status} ${await res.text()}`);
	const socket = res.webSocket!;
	const frames: Frame[] = [];
	const waiters: (() => void)[] = [];
	let closed: { code: number } | undefined;
	socket.addEventListener("message", (event) => {
		// "pong" is the runtime's auto-response to "ping"; every frame of ours is a JSON object.
		if (typeof event.data !== "string" || !event.data.startsWith("{")) return;
		frames.push(JSON.parse(event.data));
		waiters.splice(0).forEach((w) => w());
	});
	socket.addEventListener("close", (event) => {
		closed = { code: event.code };
		waiters.splice(0).forEach((w) => w());
	});
	socket.accept();
	let read = 0;
	return {
		socket,
		response: res,
		get closed() {
			return closed;
		},
		/** The next frame, waiting up to `ms`. */
		async next(ms = 2000): Promise<Frame> {
			const deadline = Date.now() + ms;
			while (read >= frames.length) {
				if (closed || Date.now() > deadline) throw new Error(`no frame (closed: ${JSON.stringify(closed)})`);
				await new Promise<void>((resolve) => {
					waiters.push(resolve);
					setTimeout(resolve, 50);
				});
			}
			return frames[read++]!;
		},
		/** Frames not read yet, after letting the runtime deliver for `ms`. */
		async rest(ms = 100): Promise<Frame[]> {
			await new Promise((r) => setTimeout(r, ms));
			const out = frames.slice(read);
			read = frames.length;
			return out;
		},
	};
}

const spanIdsOf = (frame: Frame): string[] =>
	(frame.resourceSpans as any[]).flatMap((rs) => rs.scopeSpans.flatMap((ss: any) => ss.spans.map((s: any) => s.spanId))).sort();

describe("GET /v1/traces/{id}/live", () => {
	it("streams a snapshot, each new batch once, finalized, reopened", async () => {
		const traceId = randomHex(16);
		const sub = await subscribe(traceId);
		expect(await sub.next()).toEqual({ type: "snapshot", status: "waiting", resourceSpans: [], last: true });
		const first = [randomHex(8), randomHex(8)];
		await postTraces(jsonRequest(first.map((spanId) => ({ traceId, spanId }))));
		const spans = await sub.next();
		expect(spans.type).toBe("spans");
		expect(spanIdsOf(spans)).toEqual([...first].sort());
		// A retried batch adds nothing, so nothing is sent.
		await postTraces(jsonRequest(first.map((spanId) => ({ traceId, spanId }))));
		expect(await sub.rest()).toEqual([]);
		await finalizeNow(traceId);
		expect(await sub.next()).toEqual({ type: "finalized", spanCount: 2, key: `traces/${traceId}.binpb` });
		const late = randomHex(8);
		await postTraces(jsonRequest([{ traceId, spanId: late }, { traceId, spanId: first[0]! }]));
		expect(await sub.next()).toEqual({ type: "reopened" });
		expect(spanIdsOf(await sub.next())).toEqual([late]);
		sub.socket.close();
	});

	it("gives a subscriber that arrives during assembly everything so far, then only deltas", async () => {
		const traceId = randomHex(16);
		const early = randomHex(8);
		await postTraces(jsonRequest([{ traceId, spanId: early }]));
		const sub = await subscribe(traceId);
		const snapshot = await sub.next();
		expect(snapshot).toMatchObject({ type: "snapshot", status: "partial", last: true });
		expect(spanIdsOf(snapshot)).toEqual([early]);
		const next = randomHex(8);
		await postTraces(jsonRequest([{ traceId, spanId: next }, { traceId, spanId: early }]));
		expect(spanIdsOf(await sub.next())).toEqual([next]);
	});

	it("gives a subscriber after finalization the stored trace and finalized", async () => {
		const traceId = randomHex(16);
		const ids = [randomHex(8), randomHex(8), randomHex(8)];
		await postTraces(jsonRequest(ids.map((spanId) => ({ traceId, spanId }))));
		await finalizeNow(traceId);
		const sub = await subscribe(traceId);
		const snapshot = await sub.next();
		expect(snapshot).toMatchObject({ type: "snapshot", status: "complete", last: true });
		expect(spanIdsOf(snapshot)).toEqual([...ids].sort());
		expect(await sub.next()).toEqual({ type: "finalized", spanCount: 3, key: `traces/${traceId}.binpb` });
	});

	it("splits a large snapshot over several frames, the last marked", async () => {
		const traceId = randomHex(16);
		const big = "x".repeat(2000);
		const ids = Array.from({ length: 600 }, () => randomHex(8));
		for (let i = 0; i < ids.length; i += 200) {
			await postTraces(jsonRequest(ids.slice(i, i + 200).map((spanId) => ({ traceId, spanId, attributes: { big } }))));
		}
		const sub = await subscribe(traceId);
		const frames: Frame[] = [];
		do frames.push(await sub.next());
		while (frames.at(-1)!.last === false);
		expect(frames.length).toBeGreaterThan(1);
		expect(frames.slice(0, -1).every((f) => f.last === false)).toBe(true);
		expect(frames.flatMap(spanIdsOf).sort()).toEqual([...ids].sort());
	});

	it("keeps subscriptions across hibernation and eviction", async () => {
		const traceId = randomHex(16);
		await postTraces(jsonRequest([{ traceId, spanId: randomHex(8) }]));
		const sub = await subscribe(traceId);
		await sub.next();
		await evictDurableObject(stubFor(traceId));
		const after = randomHex(8);
		await postTraces(jsonRequest([{ traceId, spanId: after }]));
		expect(spanIdsOf(await sub.next())).toEqual([after]);
		// A reconnecting subscriber gets a snapshot with both spans.
		const again = await subscribe(traceId);
		expect(spanIdsOf(await again.next())).toHaveLength(2);
	});

	it("serves as many subscribers as a trace accepts, and a dead one does not disturb the others", async () => {
		const traceId = randomHex(16);
		const subs = await Promise.all(Array.from({ length: MAX_LIVE_SUBSCRIBERS }, () => subscribe(traceId)));
		await Promise.all(subs.map((s) => s.next()));
		subs[0]!.socket.close();
		const spanId = randomHex(8);
		const res = await postTraces(jsonRequest([{ traceId, spanId }]));
		expect(res.status).toBe(200);
		const got = await Promise.all(subs.slice(1).map((s) => s.next()));
		for (const frame of got) expect(spanIdsOf(frame)).toEqual([spanId]);
	});

	it("tells subscribers of a child trace where it went, and the parent's about the merge", async () => {
		const parent = randomHex(16);
		const parentSpan = randomHex(8);
		const child = randomHex(16);
		await postTraces(jsonRequest([{ traceId: parent, spanId: parentSpan }]));
		const childSub = await subscribe(child);
		const parentSub = await subscribe(parent);
		await childSub.next();
		await parentSub.next();
		const childSpan = randomHex(8);
		await postTraces(jsonRequest([{ traceId: child, spanId: childSpan, attributes: { traceparent: `00-${parent}-${parentSpan}-01` } }]));
		expect(await childSub.next()).toMatchObject({ type: "spans" });
		expect(await childSub.next()).toEqual({ type: "redirect", traceId: parent });
		const parentFrames = [await parentSub.next(), await parentSub.next()];
		expect(parentFrames.find((f) => f.type === "merged")).toEqual({ type: "merged", traceId: child, rule: "traceparent" });
		const spans = parentFrames.find((f) => f.type === "spans")!;
		expect(spanIdsOf(spans)).toEqual([childSpan]);
		expect((spans.resourceSpans as any)[0].scopeSpans[0].spans[0].parentSpanId).toBe(parentSpan);
		// A new subscriber of the child id is redirected and closed normally.
		const late = await subscribe(child);
		expect(await late.next()).toEqual({ type: "redirect", traceId: parent });
		await late.rest(50);
		expect(late.closed?.code).toBe(1000);
	});

	it("ignores garbage from a subscriber and answers pings without waking the object", async () => {
		const traceId = randomHex(16);
		const sub = await subscribe(traceId);
		await sub.next();
		sub.socket.send("\u0000garbage{");
		sub.socket.send(new Uint8Array([1, 2, 3]));
		sub.socket.send("ping");
		const pong = await new Promise<string>((resolve) => sub.socket.addEventListener("message", (e) => e.data === "pong" && resolve(e.data as string)));
		expect(pong).toBe("pong");
		const spanId = randomHex(8);
		await postTraces(jsonRequest([{ traceId, spanId }]));
		const frames = (await sub.rest(200)).filter((f) => f.type === "spans");
		expect(frames.map(spanIdsOf)).toEqual([[spanId]]);
	});

	it("authenticates by header or by the bearer subprotocol, and needs an upgrade", async () => {
		const traceId = randomHex(16);
		const res = await exports.default.fetch(
			new Request(`${BASE}/v1/traces/${traceId}/live`, { headers: { upgrade: "websocket", "sec-websocket-protocol": "bearer, test-token" } }),
		);
		expect(res.status).toBe(101);
		expect(res.headers.get("sec-websocket-protocol")).toBe("bearer");
		res.webSocket!.accept();
		res.webSocket!.close();
		const denied = await exports.default.fetch(new Request(`${BASE}/v1/traces/${traceId}/live`, { headers: { upgrade: "websocket", "sec-websocket-protocol": "bearer, wrong" } }));
		expect(denied.status).toBe(401);
		const noUpgrade = await exports.default.fetch(new Request(`${BASE}/v1/traces/${traceId}/live`, { headers: AUTH }));
		expect(noUpgrade.status).toBe(426);
	});
});
