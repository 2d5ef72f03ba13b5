// End to end, with no exporter and no tracing code: `wrangler dev` runs a producer Worker, its
// service-binding callee and the assembler in one session; the producer and callee name the
// assembler in `streaming_tail_consumers`. A request carrying an external `traceparent` reads back
// as one trace under the external caller's span, and a live subscriber watches it assemble.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { join, resolve } from "node:path";
import { startDevServer, type DevServer } from "../../scripts/lib/dev-server.ts";

const FIXTURES = resolve(import.meta.dirname, "fixtures/tail");
let server: DevServer;

beforeAll(async () => {
	// The first config's Worker gets the port: the producer, which passes /v1/* to the assembler.
	server = await startDevServer({ configs: ["producer.toml", "callee.toml", "assembler.toml"].map((config) => join(FIXTURES, config)) });
});
afterAll(async () => {
	await server?.stop();
});

interface OtlpAttribute {
	key: string;
	value: { stringValue?: string; intValue?: string };
}
interface OtlpSpan {
	traceId: string;
	spanId: string;
	parentSpanId?: string;
	name: string;
	attributes?: OtlpAttribute[];
	events?: { name: string; attributes?: OtlpAttribute[] }[];
}
interface Frame {
	type: string;
	resourceSpans?: { resource: { attributes: { key: string; value: { stringValue?: string } }[] }; scopeSpans: { spans: OtlpSpan[] }[] }[];
	traceId?: string;
}

const hex = (bytes: number) => Array.from(crypto.getRandomValues(new Uint8Array(bytes)), (b) => b.toString(16).padStart(2, "0")).join("");
const spansIn = (frame: Frame) => (frame.resourceSpans ?? []).flatMap((rs) => rs.scopeSpans.flatMap((ss) => ss.spans.map((span) => ({ span, service: rs.resource.attributes.find((a) => a.key === "service.name")?.value.stringValue }))));
const attr = (span: OtlpSpan, key: string) => span.attributes?.find((a) => a.key === key)?.value;

describe("the assembler as a streaming tail consumer", () => {
	it("delivers a Worker, its service-binding callee and its Durable Object as one live trace under the external caller", async () => {
		const external = hex(16);
		const callerSpan = hex(8);
		// The external caller exports its own span (with TAIL_STITCH_EXTERNAL=verified, the default,
		// the Worker's trace joins the caller's only under a span that exists there).
		const exported = await fetch(`${server.url}/v1/traces`, {
			method: "POST",
			headers: { "content-type": "application/json" },
			body: JSON.stringify({ resourceSpans: [{ resource: { attributes: [{ key: "service.name", value: { stringValue: "browser" } }] }, scopeSpans: [{ spans: [{ traceId: external, spanId: callerSpan, name: "POST /checkout", kind: 3, startTimeUnixNano: String(BigInt(Date.now()) * 1_000_000n), endTimeUnixNano: String(BigInt(Date.now() + 50) * 1_000_000n) }] }] }] }),
		});
		expect(exported.status).toBe(200);
		const frames: Frame[] = [];
		const socket = new WebSocket(`${server.url.replace("http", "ws")}/v1/traces/${external}/live`);
		socket.addEventListener("message", (event) => frames.push(JSON.parse(String(event.data))));
		await new Promise((resolveOpen, reject) => {
			socket.addEventListener("open", resolveOpen);
			socket.addEventListener("error", () => reject(new Error("live WebSocket failed to open")));
		});

		const response = await fetch(`${server.url}/checkout`, { headers: { traceparent: `00-${external}-${callerSpan}-01` } });
		expect(await response.text()).toBe("checked out");

		const deadline = Date.now() + 30_000;
		while (!frames.some((f) => f.type === "finalized") && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
		socket.close();
		expect(frames.map((f) => f.type)).toContain("finalized");
		const streamed = frames.filter((f) => f.type === "spans" || f.type === "snapshot").flatMap(spansIn);
		expect(new Set(streamed.map((s) => s.span.spanId)).size).toBe(streamed.length); // nothing sent twice

		const read = await fetch(`${server.url}/v1/traces/${external}`);
		expect(read.headers.get("x-trace-status")).toBe("complete");
		const spans = spansIn((await read.json()) as Frame);
		// What the subscriber saw is exactly what was stored.
		expect(streamed.map((s) => s.span.spanId).sort()).toEqual(spans.map((s) => s.span.spanId).sort());
		for (const { span } of spans) expect(span.traceId).toBe(external);

		const byId = new Map(spans.map((s) => [s.span.spanId, s]));
		// Invocation spans carry faas.invocation_id. (`wrangler dev` reports no script names, so the
		// service is unknown_service:worker here; deployed Workers get their script name.)
		const invocations = spans.filter((s) => attr(s.span, "faas.invocation_id"));
		expect(invocations).toHaveLength(3);
		const producer = invocations.find((s) => attr(s.span, "http.request.header.traceparent"))!;
		const object = invocations.find((s) => attr(s.span, "cloudflare.durable_object.id"))!;
		const callee = invocations.find((s) => s !== producer && s !== object)!;
		// The producer hangs under the external caller; the callee and the object under the
		// producer's calls to them, as the runtime linked them.
		expect(producer.span.parentSpanId).toBe(callerSpan);
		const ancestry = (id: string | undefined): string[] => {
			const node = id ? byId.get(id) : undefined;
			return node ? [...ancestry(node.span.parentSpanId), node.span.name] : [];
		};
		expect(ancestry(callee.span.spanId)).toEqual(["POST /checkout", "fetch", "fetch", "fetch"]);
		expect(ancestry(object.span.spanId).slice(0, 3)).toEqual(["POST /checkout", "fetch", "durable_object_subrequest"]);
		expect(spans.some((s) => s.span.parentSpanId === object.span.spanId && s.span.name.startsWith("durable_object_storage"))).toBe(true);
		expect(attr(producer.span, "http.response.status_code")?.intValue).toBe("200");
		// console.log became a span event. (`wrangler dev` prefixes the Worker's name to the message.)
		const logs = (producer.span.events ?? []).filter((e) => e.name === "log").map((e) => e.attributes?.find((a) => a.key === "log.message")?.value.stringValue);
		expect(logs).toEqual([expect.stringMatching(/checkout \{"items":"3 items","reserved":"\d+"\}$/)]);
		expect(frames.some((f) => f.type === "merged")).toBe(true);
		// Live: the callee's and the object's spans reached the subscriber before the producer's
		// invocation ended (its span comes last).
		const producerFrame = frames.findIndex((f) => f.type === "spans" && spansIn(f).some((s) => s.span.spanId === producer.span.spanId));
		const calleeFrame = frames.findIndex((f) => f.type === "spans" && spansIn(f).some((s) => s.span.spanId === callee.span.spanId));
		expect(calleeFrame).toBeGreaterThan(-1);
		expect(calleeFrame).toBeLessThan(producerFrame);
	});
});
