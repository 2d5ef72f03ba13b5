// Who may join a trace to another (issue 18, security #2 and #5). A tailed Worker's onset carries
// whatever `traceparent` an anonymous caller sent; an ingest-only token can send any span of its
// tenant. Neither may re-parent a trace it does not own.
import { describe, expect, it } from "vitest";
import { env } from "cloudflare:workers";
import { evictDurableObject, runInDurableObject } from "cloudflare:test";
import { redactQuery } from "../src/tail/onset";
import type { TraceAssembler } from "../src/assembler/trace-object";
import { finalizeNow, getTrace, jsonRequest, postTraces, randomHex, readTrace, r2KeyOf, spanIds, stubFor } from "./helpers";
import { invoke } from "./tail-invoke";

const fetchOnset = (spanId: string, headers: TailStream.Header[], url = "https://shop.example/") => ({ spanId, executionModel: "stateless" as const, scriptName: "shop", info: { type: "fetch" as const, method: "GET", url, headers } });
const end: TailStream.Outcome = { type: "outcome", outcome: "ok", cpuTime: 0, wallTime: 0 };

/** One invocation of a tailed Worker called from outside with `traceparent`; its own trace id. */
async function externalCall(traceparent: string, workerEnv = env, url?: string): Promise<{ trace: string; root: string }> {
	const [trace, root] = [randomHex(16), randomHex(8)];
	await invoke(trace, undefined, fetchOnset(root, [{ name: "traceparent", value: traceparent }], url), [[root, end]], workerEnv);
	return { trace, root };
}

async function spanCount(traceId: string): Promise<number> {
	return spanIds((await readTrace(traceId)).trace).length;
}

describe("TAIL_STITCH_EXTERNAL", () => {
	it("verified (default): a token-less request naming a victim's trace id does not join it", async () => {
		const victim = randomHex(16);
		const victimRoot = randomHex(8);
		await postTraces(jsonRequest([{ traceId: victim, spanId: victimRoot, name: "GET /account" }]));
		// Bug: each such request added a merge and a span to the victim's trace.
		const attacks = await Promise.all(Array.from({ length: 5 }, () => externalCall(`00-${victim}-${randomHex(8)}-01`)));
		const read = await getTrace(victim);
		expect(read.headers.get("x-trace-merged")).toBeNull();
		expect(await spanCount(victim)).toBe(1);
		// Each attacker's invocation stays its own trace, and says why at finalization.
		for (const { trace } of attacks) {
			expect((await getTrace(trace)).status).toBe(200);
			await finalizeNow(trace);
			const stored = await env.TRACES.head(r2KeyOf(trace));
			expect(stored!.customMetadata!.refusedMerges).toMatch(new RegExp(`^${victim}:unverified: span [0-9a-f]{16} is not in trace`));
		}
		await finalizeNow(victim);
		expect((await env.TRACES.head(r2KeyOf(victim)))!.customMetadata!.spanCount).toBe("1");
	});

	it("verified: joins the caller once its span exists, when the claim arrives or by finalization", async () => {
		const caller = randomHex(16);
		const [first, second] = [randomHex(8), randomHex(8)];
		await postTraces(jsonRequest([{ traceId: caller, spanId: first, kind: 3 }]));
		const now = await externalCall(`00-${caller}-${first}-01`);
		expect((await getTrace(now.trace)).status).toBe(308);
		// The caller's span arrives after the call (an exporter's batch delay): held, then merged at finalization.
		const later = await externalCall(`00-${caller}-${second}-01`);
		expect((await getTrace(later.trace)).status).toBe(200);
		await postTraces(jsonRequest([{ traceId: caller, spanId: second, parentSpanId: first, kind: 3 }]));
		await finalizeNow(later.trace);
		expect((await getTrace(later.trace)).status).toBe(308);
		expect(new Set(spanIds((await readTrace(caller)).trace))).toEqual(new Set([first, second, now.root, later.root]));
	});

	it("always merges on the header alone; never does not merge, and the header stays recorded", async () => {
		const caller = randomHex(16);
		const always = await externalCall(`00-${caller}-${randomHex(8)}-01`, { ...env, TAIL_STITCH_EXTERNAL: "always" });
		expect((await getTrace(always.trace)).headers.get("location")).toBe(`/v1/traces/${caller}`);
		const other = randomHex(16);
		const otherSpan = randomHex(8);
		await postTraces(jsonRequest([{ traceId: other, spanId: otherSpan }]));
		const never = await externalCall(`00-${other}-${otherSpan}-01`, { ...env, TAIL_STITCH_EXTERNAL: "never" });
		expect((await getTrace(never.trace)).status).toBe(200);
		const root = (await readTrace(never.trace)).trace.resourceSpans[0]!.scopeSpans[0]!.spans[0]!;
		expect(root.attributes.find((a) => a.key === "assembler.stitch_external")?.value?.value.value).toBe("never");
		expect(root.attributes.some((a) => a.key === "http.request.header.traceparent")).toBe(true);
	});
});

describe("TAIL_REDACT_QUERY", () => {
	it("replaces query values in recorded URLs, keeping their names", async () => {
		expect(redactQuery("https://x/a?token=s3cret&debug&q=1#frag")).toBe("https://x/a?token=REDACTED&debug&q=REDACTED");
		expect(redactQuery("https://x/a")).toBe("https://x/a");
		const { trace } = await externalCall(`00-${randomHex(16)}-${randomHex(8)}-01`, { ...env, TAIL_STITCH_EXTERNAL: "never", TAIL_REDACT_QUERY: "true" }, "https://shop.example/login?session=abc123");
		const root = (await readTrace(trace)).trace.resourceSpans[0]!.scopeSpans[0]!.spans[0]!;
		expect(root.attributes.find((a) => a.key === "url.full")?.value?.value.value).toBe("https://shop.example/login?session=REDACTED");
	});
});

describe("an ingest token and a trace that has a root", () => {
	const writer = { authorization: "Bearer writer-token" };
	const reader = { authorization: "Bearer acme-token" };

	it("cannot re-parent an open trace with a claiming span (it was turned into a redirect)", async () => {
		const victim = randomHex(16);
		const victimRoot = randomHex(8);
		await postTraces(jsonRequest([{ traceId: victim, spanId: victimRoot, name: "GET /account" }]), { headers: reader });
		const attacker = randomHex(16);
		const attackerSpan = randomHex(8);
		await postTraces(jsonRequest([{ traceId: attacker, spanId: attackerSpan }]), { headers: writer });
		for (const parentSpanId of [undefined, victimRoot]) {
			const res = await postTraces(jsonRequest([{ traceId: victim, spanId: randomHex(8), parentSpanId, attributes: { traceparent: `00-${attacker}-${attackerSpan}-01` } }]), { headers: writer });
			expect(res.status).toBe(200);
		}
		const read = await getTrace(victim, reader);
		expect(read.status).toBe(200);
		expect(read.headers.get("x-trace-refused-merges")).toMatch(new RegExp(`^${attacker}:trace already has a root span ${victimRoot}`));
	});

	it("cannot re-parent a finalized trace whose object has forgotten it (R2 holds the root)", async () => {
		const victim = randomHex(16);
		const victimRoot = randomHex(8);
		await postTraces(jsonRequest([{ traceId: victim, spanId: victimRoot }]), { headers: reader });
		await finalizeNow(victim, "acme");
		// Retention frees the object's storage; only R2 remembers the trace.
		await runInDurableObject(stubFor(victim, "acme"), async (_: TraceAssembler, state) => void (await state.storage.deleteAll()));
		await evictDurableObject(stubFor(victim, "acme"));
		const attacker = randomHex(16);
		const res = await postTraces(jsonRequest([{ traceId: victim, spanId: randomHex(8), attributes: { traceparent: `00-${attacker}-${randomHex(8)}-01` } }]), { headers: writer });
		expect(res.status).toBe(200);
		const read = await getTrace(victim, reader);
		expect(read.status).toBe(200);
		await finalizeNow(victim, "acme");
		const stored = await env.TRACES.head(`tenants/acme/traces/${victim}.binpb`);
		expect(stored!.customMetadata!.mergedInto).toBeUndefined();
		expect(stored!.customMetadata!.spanCount).toBe("2");
		expect(stored!.customMetadata!.refusedMerges).toMatch(/already has a root span/);
	});

	it("a legit late root (its children arrived minutes earlier, even finalized) still stitches", async () => {
		const caller = randomHex(16);
		const callerSpan = randomHex(8);
		await postTraces(jsonRequest([{ traceId: caller, spanId: callerSpan }]));
		const child = randomHex(16);
		const [root, kid] = [randomHex(8), randomHex(8)];
		await postTraces(jsonRequest([{ traceId: child, spanId: kid, parentSpanId: root }]));
		await finalizeNow(child);
		await postTraces(jsonRequest([{ traceId: child, spanId: root, attributes: { traceparent: `00-${caller}-${callerSpan}-01` } }]));
		expect((await getTrace(child)).headers.get("location")).toBe(`/v1/traces/${caller}`);
		expect(new Set(spanIds((await readTrace(caller)).trace))).toEqual(new Set([callerSpan, root, kid]));
	});
});
