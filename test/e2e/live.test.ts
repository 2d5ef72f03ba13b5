// End to end: a real WebSocket client subscribed to a trace on `wrangler dev` while the real
// OpenTelemetry JS SDK exports the trace's spans in several batches over OTLP/HTTP JSON.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { context, trace, type Span } from "@opentelemetry/api";
import { BasicTracerProvider, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { resourceFromAttributes } from "@opentelemetry/resources";
import { startDevServer, type DevServer } from "../../scripts/lib/dev-server.ts";

let server: DevServer;
const TOKEN = "e2e-live-token";

beforeAll(async () => {
	server = await startDevServer({ vars: { AUTH_TOKENS: TOKEN, QUIET_PERIOD_MS: "1500" } });
});
afterAll(async () => {
	await server?.stop();
});

interface Frame {
	type: string;
	resourceSpans?: { scopeSpans: { spans: { spanId: string; name: string }[] }[] }[];
	[key: string]: unknown;
}

function subscribe(traceId: string): Promise<{ frames: Frame[]; waitFor: (type: string, timeoutMs?: number) => Promise<Frame>; close: () => void }> {
	const socket = new WebSocket(`${server.url.replace("http", "ws")}/v1/traces/${traceId}/live`, ["bearer", TOKEN]);
	const frames: Frame[] = [];
	const waiters: (() => void)[] = [];
	socket.addEventListener("message", (event) => {
		frames.push(JSON.parse(String(event.data)));
		waiters.splice(0).forEach((w) => w());
	});
	const waitFor = async (type: string, timeoutMs = 15_000) => {
		const deadline = Date.now() + timeoutMs;
		for (;;) {
			const found = frames.find((f) => f.type === type);
			if (found) return found;
			if (Date.now() > deadline) throw new Error(`no ${type} frame; got ${frames.map((f) => f.type).join(",")}`);
			await new Promise<void>((r) => {
				waiters.push(r);
				setTimeout(r, 200);
			});
		}
	};
	return new Promise((resolve, reject) => {
		socket.addEventListener("open", () => resolve({ frames, waitFor, close: () => socket.close() }));
		socket.addEventListener("error", () => reject(new Error("WebSocket failed to open")));
	});
}

const ids = (frame: Frame) => (frame.resourceSpans ?? []).flatMap((rs) => rs.scopeSpans.flatMap((ss) => ss.spans.map((s) => s.spanId)));

describe("live progress end to end", () => {
	it("streams every span exactly once, in order, while the SDK exports, then finalized", async () => {
		const exporter = new OTLPTraceExporter({ url: `${server.url}/v1/traces`, headers: { Authorization: `Bearer ${TOKEN}` } });
		const provider = new BasicTracerProvider({
			resource: resourceFromAttributes({ "service.name": "e2e-live" }),
			spanProcessors: [new SimpleSpanProcessor(exporter)],
		});
		const tracer = provider.getTracer("e2e-live", "1.0.0");
		const root = tracer.startSpan("GET /checkout");
		const traceId = root.spanContext().traceId;
		const sub = await subscribe(traceId);
		await sub.waitFor("snapshot");
		expect(sub.frames[0]).toMatchObject({ type: "snapshot", status: "waiting", last: true });

		// Each child ends (and is exported) on its own: every export is one `spans` event.
		const rootContext = trace.setSpan(context.active(), root);
		const children: Span[] = [];
		for (let i = 0; i < 6; i++) {
			const child = tracer.startSpan(`step ${i}`, {}, rootContext);
			child.setAttribute("step", i);
			child.end();
			children.push(child);
			await provider.forceFlush();
		}
		root.end();
		await provider.forceFlush();
		const finalized = await sub.waitFor("finalized");
		await provider.shutdown();

		const streamed = sub.frames.filter((f) => f.type === "spans").flatMap(ids);
		const expected = [...children.map((c) => c.spanContext().spanId), root.spanContext().spanId];
		expect(streamed).toEqual(expected);
		expect(finalized).toMatchObject({ type: "finalized", spanCount: 7 });
		// finalized comes after the last spans event.
		expect(sub.frames.findIndex((f) => f.type === "finalized")).toBe(sub.frames.length - 1);
		sub.close();
	});
});
