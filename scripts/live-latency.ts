// Usage: npm run live-latency -- [--url http://127.0.0.1:8787] [--token T] [--samples 200] [--subscribers 1]
// Measures, against a running assembler (npm start), the delay from POST /v1/traces to the `spans`
// event on the trace's live WebSocket, and prints the median and p99.
import { option } from "./lib/args.ts";
import { quantile } from "./lib/stats.ts";

const base = option("url", "http://127.0.0.1:8787");
const token = option("token", process.env.TRACE_ASSEMBLER_TOKEN ?? "");
const samples = Number(option("samples", "200"));
const subscribers = Number(option("subscribers", "1"));

const hex = (bytes: number) => Array.from(crypto.getRandomValues(new Uint8Array(bytes)), (b) => b.toString(16).padStart(2, "0")).join("");

function subscribe(traceId: string): Promise<{ socket: WebSocket; nextSpans: () => Promise<number> }> {
	const url = `${base.replace(/^http/, "ws")}/v1/traces/${traceId}/live`;
	const socket = token ? new WebSocket(url, ["bearer", token]) : new WebSocket(url);
	let waiting: ((at: number) => void) | undefined;
	return new Promise((resolve, reject) => {
		socket.addEventListener("error", () => reject(new Error(`cannot subscribe at ${url}: is the assembler running (npm start)?`)));
		socket.addEventListener("message", (event) => {
			const frame = JSON.parse(String(event.data));
			if (frame.type === "snapshot" && frame.last) resolve({ socket, nextSpans: () => new Promise((r) => (waiting = r)) });
			if (frame.type === "spans") waiting?.(performance.now());
		});
	});
}

async function sample(): Promise<number> {
	const traceId = hex(16);
	const subs = await Promise.all(Array.from({ length: subscribers }, () => subscribe(traceId)));
	const arrivals = subs.map((s) => s.nextSpans());
	const now = BigInt(Date.now()) * 1_000_000n;
	const body = {
		resourceSpans: [{
			resource: { attributes: [{ key: "service.name", value: { stringValue: "latency-probe" } }] },
			scopeSpans: [{ spans: [{ traceId, spanId: hex(8), name: "probe", kind: 2, startTimeUnixNano: String(now), endTimeUnixNano: String(now + 1_000_000n) }] }],
		}],
	};
	const sent = performance.now();
	const res = await fetch(`${base}/v1/traces`, {
		method: "POST",
		headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) },
		body: JSON.stringify(body),
	});
	if (res.status !== 200) throw new Error(`POST answered ${res.status}: ${await res.text()}`);
	const last = Math.max(...(await Promise.all(arrivals)));
	for (const s of subs) s.socket.close();
	return last - sent;
}

const delays: number[] = [];
for (let i = 0; i < samples; i++) delays.push(await sample());
delays.sort((a, b) => a - b);
const pct = (p: number) => quantile(delays, p);
console.log(`POST -> live "spans" event, ${samples} samples, ${subscribers} subscriber(s) per trace:`);
console.log(`  median ${pct(0.5).toFixed(2)} ms   p99 ${pct(0.99).toFixed(2)} ms   max ${delays.at(-1)!.toFixed(2)} ms`);
