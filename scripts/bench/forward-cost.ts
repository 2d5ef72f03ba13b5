// Usage: npm run bench -- --cost (this shape runs after the others), or
//        node scripts/bench.ts --forward-cost (this shape alone).
// The forwarding shape of the cost measurement: the standard load (64-span traces in 8 parts,
// protobuf) on fresh `wrangler dev` servers with COUNT_USAGE=true and a local OTLP receiver as the
// destination, four ways: no forwarding (the baseline); every trace kept and forwarded; 1 in 10
// kept (SAMPLING_RULES) with everything stored; 1 in 10 kept with STORE_TRACES=sampled. Priced per
// million spans from what the Worker and the objects counted: the Durable Object and R2 line items
// as in scripts/lib/cost.ts,
// plus Queue operations (each 64 KB written, read or deleted is one) and the consumer's Worker
// requests (one per batch). The consumer's CPU time is not counted here (a few ms per batch).
import { createServer } from "node:http";
import type { UsageCounts } from "../../src/metering/usage.ts";
import { buildLoad } from "../lib/bench-load.ts";
import { freePort, startDevServer } from "../lib/dev-server.ts";
import { QUEUE_USD_PER_MILLION_OPERATIONS, USD_PER_MILLION } from "../lib/prices.ts";

export interface ForwardCost {
	shape: string;
	spans: number;
	traces: number;
	forwardedRequests: number;
	counts: UsageCounts;
	usd: Record<string, number>;
	usdPerMillionSpans: number;
}

const get = async (url: string) => (await fetch(url)).json() as Promise<UsageCounts>;

async function run(shape: string, receiverUrl: string, vars: Record<string, string>, received: () => number): Promise<ForwardCost> {
	const server = await startDevServer({
		vars: { ALLOW_ANONYMOUS: "true", COUNT_USAGE: "true", QUIET_PERIOD_MS: "10000", RETENTION_MS: "3000", FORWARD_DESTINATIONS: JSON.stringify([{ name: "bench", endpoint: receiverUrl }]), ...vars },
	});
	const before = received();
	try {
		const load = buildLoad({ requests: 64, tracesPerRequest: 64 });
		let next = 0;
		await Promise.all(
			Array.from({ length: 4 }, async () => {
				for (let i = next++; i < load.protobuf.length; i = next++) {
					const response = await fetch(`${server.url}/v1/traces`, { method: "POST", headers: { "content-type": "application/x-protobuf" }, body: load.protobuf[i]! });
					if (response.status !== 200) throw new Error(`POST answered ${response.status}: ${await response.text()}`);
					await response.arrayBuffer();
				}
			}),
		);
		// Every trace through retention (one deleteAll each), and the queue quiet for 3 s.
		const deadline = Date.now() + 120_000;
		let counts = await get(`${server.url}/debug/usage`);
		let lastChange = Date.now();
		let lastBatches = -1;
		while (Date.now() < deadline) {
			counts = await get(`${server.url}/debug/usage`);
			if (counts.queueBatches !== lastBatches) {
				lastBatches = counts.queueBatches;
				lastChange = Date.now();
			}
			if (counts.deleteAlls >= load.traceIds.length && Date.now() - lastChange > 3_000) break;
			await new Promise((r) => setTimeout(r, 250));
		}
		const spans = load.protobuf.length * load.spansPerRequest;
		const perM = (n: number) => (n / spans) * 1e6;
		const usd: Record<string, number> = {
			rowsWritten: (perM(counts.rowsWritten + counts.alarmsSet) / 1e6) * USD_PER_MILLION.rowsWritten,
			rowsRead: (perM(counts.rowsRead) / 1e6) * USD_PER_MILLION.rowsRead,
			doRequests: (perM(counts.objectCalls + counts.alarmsRun) / 1e6) * USD_PER_MILLION.doRequests,
			r2ClassA: (perM(counts.r2ClassA) / 1e6) * USD_PER_MILLION.r2ClassA,
			r2ClassB: (perM(counts.r2ClassB) / 1e6) * USD_PER_MILLION.r2ClassB,
			workerRequests: (perM(counts.workerRequests + counts.queueBatches) / 1e6) * USD_PER_MILLION.workerRequests,
			queueOperations: (perM(counts.queueOperations) / 1e6) * QUEUE_USD_PER_MILLION_OPERATIONS,
		};
		return { shape, spans, traces: load.traceIds.length, forwardedRequests: received() - before, counts, usd, usdPerMillionSpans: Object.values(usd).reduce((a, b) => a + b, 0) };
	} finally {
		await server.stop();
	}
}

/** Queue operations and time a message spends while its destination is down (consumer.ts backoff, no jitter). */
export function outageFigures(maxDelayS = 600, maxAttempts = 100): { attemptsInAnHour: number; extraOpsPerMessageInAnHour: number; hoursCoveredByRetries: number } {
	let elapsed = 0;
	let attemptsInAnHour = 0;
	for (let attempt = 1; attempt < maxAttempts; attempt++) {
		elapsed += Math.min(2 * 1.5 ** (attempt - 1), maxDelayS);
		if (elapsed <= 3600) attemptsInAnHour = attempt + 1;
	}
	return { attemptsInAnHour, extraOpsPerMessageInAnHour: attemptsInAnHour - 1, hoursCoveredByRetries: elapsed / 3600 };
}

export async function forwardingCost(log: (line: string) => void = () => {}): Promise<{ results: ForwardCost[]; table: string }> {
	let requests = 0;
	const receiver = createServer((request, response) => {
		request.resume();
		request.on("end", () => {
			requests++;
			response.writeHead(200, { "content-type": "application/x-protobuf" }).end();
		});
	});
	const port = await freePort();
	await new Promise<void>((resolve) => receiver.listen(port, "127.0.0.1", resolve));
	const url = `http://127.0.0.1:${port}/v1/traces`;
	const tenth = JSON.stringify([{ name: "rest", sampleRate: 10 }]);
	try {
		log("cost: the same load without forwarding (baseline) ...");
		const none = await run("no forwarding", url, { FORWARD_DESTINATIONS: "" }, () => requests);
		log("cost: forwarding, every trace kept ...");
		const all = await run("forward all", url, {}, () => requests);
		log("cost: forwarding, 1 in 10 kept, everything stored ...");
		const sampled = await run("1 in 10, store all", url, { SAMPLING_RULES: tenth }, () => requests);
		log("cost: forwarding, 1 in 10 kept, STORE_TRACES=sampled ...");
		const stored = await run("1 in 10, STORE_TRACES=sampled", url, { SAMPLING_RULES: tenth, STORE_TRACES: "sampled" }, () => requests);
		return { results: [none, all, sampled, stored], table: forwardTable([none, all, sampled, stored]) };
	} finally {
		receiver.close();
	}
}

function forwardTable(results: ForwardCost[]): string {
	const fmt = (n: number, d = 4) => n.toLocaleString("en-US", { maximumFractionDigits: d, minimumFractionDigits: d });
	const items = Object.keys(results[0]!.usd);
	const rows = [`| forwarding, per million spans (USD) | ${results.map((r) => r.shape).join(" | ")} |`, `|---|${results.map(() => "---|").join("")}`];
	for (const item of items) rows.push(`| ${item}${item === "workerRequests" ? " (incl. consumer batches)" : ""} | ${results.map((r) => `$${fmt(r.usd[item]!)}`).join(" | ")} |`);
	rows.push(`| **total** | ${results.map((r) => `**$${fmt(r.usdPerMillionSpans, 3)}**`).join(" | ")} |`);
	rows.push(`| Queue operations per OTLP request | ${results.map((r) => fmt(r.counts.queueOperations / Math.max(1, r.forwardedRequests), 2)).join(" | ")} |`);
	rows.push(`| R2 PUTs per trace | ${results.map((r) => fmt(r.counts.r2ClassA / r.traces, 2)).join(" | ")} |`);
	rows.push(`| OTLP requests received / traces | ${results.map((r) => `${r.forwardedRequests} / ${r.traces}`).join(" | ")} |`);
	const outage = outageFigures();
	rows.push(
		"",
		`Destination down: a message is retried ${outage.attemptsInAnHour - 1} times in the first hour (backoff 2 s × 1.5ⁿ, capped at 600 s), each retry one more read operation: ${outage.extraOpsPerMessageInAnHour} extra ops per kept trace, $${fmt((outage.extraOpsPerMessageInAnHour * QUEUE_USD_PER_MILLION_OPERATIONS * 15_625) / 1e6, 4)} per million spans at 64 spans per trace. 100 deliveries cover ${fmt(outage.hoursCoveredByRetries, 1)} h before the dead-letter queue; the queue keeps messages 4 days by default (up to 14).`,
	);
	return rows.join("\n");
}

if (import.meta.url === `file://${process.argv[1]}`) {
	const { table } = await forwardingCost((line) => process.stderr.write(`${line}\n`));
	process.stdout.write(`${table}\n`);
}
