// End to end: forwarding under `wrangler dev` to real OTLP receivers — a second assembler instance
// (protobuf, gzip, bearer token from the headers secret) and a plain Node HTTP receiver on
// 127.0.0.1 that counts requests and answers as scripted (503 + Retry-After, 400), or is down.
// Also: 1-in-N on 2,000 traces is the local computation exactly, and stays so across a SIGKILL
// restart, after which late spans of kept traces forward alone and those of dropped ones never;
// and the viewer shows the decision in the trace header.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createServer, type Server } from "node:http";
import { gunzipSync } from "node:zlib";
import { fromBinary } from "@bufbuild/protobuf";
import { TracesDataSchema } from "../../src/gen/opentelemetry/proto/trace/v1/trace_pb.ts";
import { keepsOneIn } from "../../src/forward/deterministic.ts";
import { freePort, startDevServer, type DevServer } from "../../scripts/lib/dev-server.ts";
import { launchChromium } from "../../scripts/lib/browser.ts";
import { openSession } from "./viewer/page-session.ts";

const SOURCE_TOKEN = "e2e-forward-source";
const DEST_TOKEN = "e2e-forward-destination";
const RATE = 10;

interface ReceivedSpan {
	traceId: string;
	spanId: string;
	sampleRate?: bigint;
	rule?: string;
}
interface ReceivedRequest {
	answered: number;
	spans: ReceivedSpan[];
}

/** The plain OTLP/HTTP receiver: records protobuf requests, answers from a per-trace script. */
class PlainReceiver {
	requests: ReceivedRequest[] = [];
	script = new Map<string, { status: number; retryAfter?: number; body?: string }[]>();
	#server: Server | undefined;
	#sockets = new Set<import("node:net").Socket>();
	constructor(readonly port: number) {}

	get url(): string {
		return `http://127.0.0.1:${this.port}/v1/traces`;
	}

	async up(): Promise<void> {
		this.#server = createServer((request, response) => {
			const chunks: Buffer[] = [];
			request.on("data", (c: Buffer) => chunks.push(c));
			request.on("end", () => {
				let body = Buffer.concat(chunks);
				if (request.headers["content-encoding"] === "gzip") body = gunzipSync(body);
				const spans: ReceivedSpan[] = [];
				for (const rs of fromBinary(TracesDataSchema, body).resourceSpans)
					for (const ss of rs.scopeSpans)
						for (const s of ss.spans) {
							const attr = (key: string) => s.attributes.find((a) => a.key === key)?.value?.value;
							const rate = attr("SampleRate");
							const rule = attr("sampling.rule");
							spans.push({ traceId: Buffer.from(s.traceId).toString("hex"), spanId: Buffer.from(s.spanId).toString("hex"), sampleRate: rate?.case === "intValue" ? rate.value : undefined, rule: rule?.case === "stringValue" ? rule.value : undefined });
						}
				const answer = this.script.get(spans[0]?.traceId ?? "")?.shift() ?? { status: 200 };
				this.requests.push({ answered: answer.status, spans });
				const headers: Record<string, string> = { "content-type": "application/json" };
				if (answer.retryAfter !== undefined) headers["retry-after"] = String(answer.retryAfter);
				response.writeHead(answer.status, headers).end(answer.body ?? "{}");
			});
		});
		this.#server.on("connection", (socket) => {
			this.#sockets.add(socket);
			socket.on("close", () => this.#sockets.delete(socket));
		});
		await new Promise<void>((resolve) => this.#server!.listen(this.port, "127.0.0.1", resolve));
	}

	/** Down: the port refuses connections (a network error to the sender). */
	async down(): Promise<void> {
		for (const socket of this.#sockets) socket.destroy();
		await new Promise<void>((resolve) => (this.#server ? this.#server.close(() => resolve()) : resolve()));
		this.#server = undefined;
	}

	spansOf(traceId: string): ReceivedSpan[] {
		return this.requests.filter((r) => r.answered === 200).flatMap((r) => r.spans.filter((s) => s.traceId === traceId));
	}
}

let destination: DevServer;
let source: DevServer;
let plain: PlainReceiver;
const sourceLog: string[] = [];
let sourceVars: Record<string, string>;
/** The kept, stitched trace of the first test, shown in the viewer by the second. */
let stitchedParent = "";

const hex = (bytes: number) => Buffer.from(crypto.getRandomValues(new Uint8Array(bytes))).toString("hex");

interface Span {
	traceId: string;
	spanId: string;
	parentSpanId?: string;
	name?: string;
	attributes?: Record<string, string>;
	error?: boolean;
}

function body(spans: Span[]): string {
	const now = BigInt(Date.now()) * 1_000_000n;
	return JSON.stringify({
		resourceSpans: [
			{
				resource: { attributes: [{ key: "service.name", value: { stringValue: "shop" } }] },
				scopeSpans: [
					{
						scope: { name: "e2e" },
						spans: spans.map((s) => ({
							traceId: s.traceId,
							spanId: s.spanId,
							...(s.parentSpanId ? { parentSpanId: s.parentSpanId } : {}),
							name: s.name ?? "work",
							kind: 2,
							startTimeUnixNano: String(now),
							endTimeUnixNano: String(now + 1_000_000n),
							attributes: Object.entries(s.attributes ?? {}).map(([key, value]) => ({ key, value: { stringValue: value } })),
							status: { code: s.error ? 2 : 0 },
						})),
					},
				],
			},
		],
	});
}

async function post(spans: Span[]): Promise<void> {
	const response = await fetch(`${source.url}/v1/traces`, { method: "POST", headers: { "content-type": "application/json", authorization: `Bearer ${SOURCE_TOKEN}` }, body: body(spans) });
	expect(response.status, await response.text()).toBe(200);
}

async function waitFor(what: string, ready: () => boolean | Promise<boolean>, timeoutMs = 90_000): Promise<void> {
	const deadline = Date.now() + timeoutMs;
	while (!(await ready())) {
		if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
		await new Promise((r) => setTimeout(r, 250));
	}
}

const quiet = (ms = 4_000) => new Promise((r) => setTimeout(r, ms));

async function forwardingStatus(): Promise<{ destinations: { name: string; sent: { traces: number; spans: number }; retried: { traces: number }; deadLettered: { traces: number } }[] }> {
	const response = await fetch(`${source.url}/api/status/forwarding`, { headers: { authorization: `Bearer ${SOURCE_TOKEN}` } });
	expect(response.status).toBe(200);
	return response.json() as never;
}

beforeAll(async () => {
	plain = new PlainReceiver(await freePort());
	await plain.up();
	destination = await startDevServer({ vars: { AUTH_TOKENS: DEST_TOKEN, QUIET_PERIOD_MS: "1000" } });
	sourceVars = {
		AUTH_TOKENS: SOURCE_TOKEN,
		QUIET_PERIOD_MS: "1000",
		FORWARD_MAX_RETRY_DELAY_S: "2",
		SAMPLING_RULES: JSON.stringify([
			{ name: "errors", when: "{ status = error }", sampleRate: 1 },
			{ name: "health", when: '{ span.http.route = "/health" }', drop: true },
			{ name: "rest", sampleRate: RATE },
		]),
		FORWARD_DESTINATIONS: JSON.stringify([
			{ name: "assembler", endpoint: `${destination.url}/v1/traces`, headersSecret: "ASSEMBLER_HEADERS" },
			{ name: "plain", endpoint: plain.url, headersSecret: "PLAIN_HEADERS" },
		]),
		ASSEMBLER_HEADERS: `authorization=Bearer ${DEST_TOKEN}`,
		PLAIN_HEADERS: "x-api-key=e2e",
	};
	source = await startDevServer({ vars: sourceVars, onOutput: (text) => sourceLog.push(text) });
});

afterAll(async () => {
	await source?.stop();
	await destination?.stop();
	await plain?.down();
});

describe("forwarding end to end", () => {
	it("delivers a stitched trace whole and once, under the parent's id, to another assembler and to a plain receiver", async () => {
		const parent = hex(16);
		const child = hex(16);
		const root = hex(8);
		const call = hex(8);
		const childRoot = hex(8);
		const childWork = hex(8);
		await post([
			{ traceId: parent, spanId: root, name: "GET /checkout", error: true },
			{ traceId: parent, spanId: call, parentSpanId: root, name: "fetch cart" },
			{ traceId: child, spanId: childRoot, name: "cart", attributes: { "http.request.header.traceparent": `00-${parent}-${call}-01` } },
			{ traceId: child, spanId: childWork, parentSpanId: childRoot, name: "load" },
		]);
		await waitFor("the plain receiver to get the parent", () => plain.spansOf(parent).length >= 4);
		await quiet();
		const spans = plain.spansOf(parent);
		expect(spans.map((s) => s.spanId).sort()).toEqual([root, call, childRoot, childWork].sort());
		expect(plain.requests.filter((r) => r.spans.some((s) => s.traceId === parent))).toHaveLength(1);
		expect(plain.spansOf(child)).toEqual([]);
		expect(spans.every((s) => s.sampleRate === 1n && s.rule === "errors")).toBe(true);
		// The other assembler stored the same trace, stitched.
		await waitFor("the destination assembler to finalize it", async () => {
			const r = await fetch(`${destination.url}/v1/traces/${parent}`, { headers: { authorization: `Bearer ${DEST_TOKEN}` } });
			return r.status === 200 && r.headers.get("x-trace-status") === "complete";
		});
		const stored = await (await fetch(`${destination.url}/v1/traces/${parent}`, { headers: { authorization: `Bearer ${DEST_TOKEN}`, accept: "application/x-protobuf" } })).arrayBuffer();
		const storedSpans = fromBinary(TracesDataSchema, new Uint8Array(stored)).resourceSpans.flatMap((rs) => rs.scopeSpans.flatMap((ss) => ss.spans));
		expect(storedSpans.map((s) => Buffer.from(s.spanId).toString("hex")).sort()).toEqual([root, call, childRoot, childWork].sort());
		// Its viewer's source of truth says why the trace was kept.
		const read = await fetch(`${source.url}/v1/traces/${parent}`, { method: "HEAD", headers: { authorization: `Bearer ${SOURCE_TOKEN}` } });
		expect(read.headers.get("x-trace-sampling")).toBe("kept; rule=errors; rate=1");
		stitchedParent = parent;
	});

	it("shows the decision in the viewer's trace header", async () => {
		const browser = await launchChromium();
		try {
			const session = await openSession(browser, source.url, { token: SOURCE_TOKEN });
			await session.page.goto(`${source.url}/ui/trace/${stitchedParent}`);
			const decision = session.page.locator("[data-sampling-decision]");
			await decision.waitFor({ timeout: 20_000 });
			expect(await decision.getAttribute("data-sampling-decision")).toBe("kept");
			expect(await decision.getAttribute("data-sampling-rule")).toBe("errors");
			expect(await decision.getAttribute("data-sample-rate")).toBe("1");
			session.check();
			await session.close();
		} finally {
			await browser.close();
		}
	});

	it("retries a 503 with Retry-After and delivers once; dead-letters a 400 with its reason", async () => {
		const retried = hex(16);
		const refused = hex(16);
		plain.script.set(retried, [{ status: 503, retryAfter: 1 }]);
		plain.script.set(refused, [{ status: 400, body: '{"code":3,"message":"e2e: bad data"}' }]);
		await post([{ traceId: retried, spanId: hex(8), error: true }, { traceId: refused, spanId: hex(8), error: true }]);
		await waitFor("the 503 trace to be delivered", () => plain.spansOf(retried).length >= 1);
		await waitFor("the 400 to be logged as dead-lettered", () => sourceLog.join("").includes(`trace ${refused}`) && /dead-lettered: 400[^\n]*e2e: bad data/.test(sourceLog.join("")));
		await quiet();
		expect(plain.requests.filter((r) => r.spans.some((s) => s.traceId === retried)).map((r) => r.answered)).toEqual([503, 200]);
		expect(plain.requests.filter((r) => r.spans.some((s) => s.traceId === refused)).map((r) => r.answered)).toEqual([400]);
		const status = (await forwardingStatus()).destinations.find((d) => d.name === "plain")!;
		expect(status.retried.traces).toBeGreaterThanOrEqual(1);
		expect(status.deadLettered.traces).toBeGreaterThanOrEqual(1);
	});

	it("delivers everything once when the receiver was down for a while", async () => {
		await plain.down();
		const traces = Array.from({ length: 20 }, () => hex(16));
		await post(traces.map((traceId) => ({ traceId, spanId: hex(8), error: true })));
		await waitFor("retries against the closed port", async () => ((await forwardingStatus()).destinations.find((d) => d.name === "plain")!.retried.traces ?? 0) >= 20);
		await quiet(3_000);
		await plain.up();
		await waitFor("every trace delivered", () => traces.every((t) => plain.spansOf(t).length >= 1));
		await quiet();
		for (const t of traces) expect(plain.spansOf(t)).toHaveLength(1);
	});

	it("keeps exactly the traces 1-in-N names on 2,000 traces, across a SIGKILL restart; late spans of kept traces go alone, of dropped ones never", { timeout: 600_000 }, async () => {
		const traces = Array.from({ length: 2_000 }, () => ({ traceId: hex(16), spanId: hex(8) }));
		const health = Array.from({ length: 20 }, () => ({ traceId: hex(16), spanId: hex(8), attributes: { "http.route": "/health" } }));
		for (let i = 0; i < traces.length; i += 200) await post(traces.slice(i, i + 200));
		await post(health);
		const expected = new Set(traces.filter((t) => keepsOneIn(t.traceId, RATE)).map((t) => t.traceId));
		const sd = Math.sqrt(traces.length * (1 / RATE) * (1 - 1 / RATE));
		expect(Math.abs(expected.size - traces.length / RATE)).toBeLessThan(4 * sd);
		await waitFor("the kept traces to arrive", () => [...expected].every((t) => plain.spansOf(t).length >= 1), 300_000);
		await quiet(6_000);
		const before = new Set(plain.requests.filter((r) => r.answered === 200).flatMap((r) => r.spans.map((s) => s.traceId)));
		const firstWave = traces.map((t) => t.traceId).filter((t) => before.has(t));
		expect(new Set(firstWave)).toEqual(expected);
		for (const t of traces) if (expected.has(t.traceId)) expect(plain.spansOf(t.traceId).map((s) => [s.spanId, s.sampleRate, s.rule])).toEqual([[t.spanId, BigInt(RATE), "rest"]]);
		for (const h of health) expect(plain.spansOf(h.traceId)).toEqual([]);

		// A crash, then a late span for every trace: decisions come back from storage.
		await source.crash();
		source = await startDevServer({ vars: sourceVars, persistTo: source.persistTo, onOutput: (text) => sourceLog.push(text) });
		const late = traces.map((t) => ({ traceId: t.traceId, spanId: hex(8), parentSpanId: t.spanId, name: "late", error: true }));
		for (let i = 0; i < late.length; i += 200) await post(late.slice(i, i + 200));
		await post(health.map((h) => ({ traceId: h.traceId, spanId: hex(8), error: true })));
		await waitFor("late spans of kept traces", () => late.every((l) => !expected.has(l.traceId) || plain.spansOf(l.traceId).length >= 2), 300_000);
		await quiet(6_000);
		for (const [i, t] of traces.entries()) {
			const spans = plain.spansOf(t.traceId).map((s) => s.spanId);
			// Kept: the first span once and the late one once; dropped: nothing, though the late span is an error.
			expect(spans).toEqual(expected.has(t.traceId) ? [t.spanId, late[i]!.spanId] : []);
		}
		for (const h of health) expect(plain.spansOf(h.traceId)).toEqual([]);
	});
});
