// `npm run bench -- --fan-out [--fan-out-traces 1000] [--fan-out-requests 6]`: what an export
// request with more traces than MAX_SUBREQUESTS costs through ingest relays (src/ingest/fan-out.ts).
// One `wrangler dev` per MAX_SUBREQUESTS value (1,000: the default, no relay for these requests;
// 50: Workers Free; 20), each with COUNT_USAGE=true, takes the same requests of `traces` two-span
// traces (protobuf, 4 concurrent clients would hide latency: one at a time), and the table shows
// the median request latency, the relays and Durable Object calls counted per request, the most
// subrequests any invocation made, and the relays' price per million spans (each relay call is
// one Durable Object request; relays write no row and touch no R2).
import type { UsageCounts } from "../../src/metering/usage.ts";
import { buildLoad } from "../lib/bench-load.ts";
import { startDevServer } from "../lib/dev-server.ts";
import { USD_PER_MILLION } from "../lib/prices.ts";

export interface FanOutRow {
	maxSubrequests: number;
	tracesPerRequest: number;
	spansPerRequest: number;
	latencyMsP50: number;
	relaysPerRequest: number;
	objectCallsPerRequest: number;
	maxSubrequestsPerInvocation: number;
	relayUsdPerMillionSpans: number;
}

async function usage(url: string): Promise<UsageCounts> {
	const response = await fetch(`${url}/debug/usage`);
	if (response.status !== 200) throw new Error(`GET /debug/usage answered ${response.status}`);
	return (await response.json()) as UsageCounts;
}

export async function fanOutBench(traces: number, requests: number, limits = [1000, 50, 20]): Promise<{ rows: FanOutRow[]; markdown: string }> {
	const load = buildLoad({ requests, tracesPerRequest: traces, spansPerRequest: traces * 2, requestsPerTrace: 1 });
	const rows: FanOutRow[] = [];
	for (const limit of limits) {
		// A quiet period that outlasts the run: only ingest is measured, no finalization meanwhile.
		const server = await startDevServer({ vars: { ALLOW_ANONYMOUS: "true", COUNT_USAGE: "true", QUIET_PERIOD_MS: "600000", MAX_SUBREQUESTS: String(limit) } });
		try {
			const latencies: number[] = [];
			// The first request warms the server up (module load, first objects); it is not timed.
			for (const [i, body] of [load.protobuf[0]!, ...load.protobuf].entries()) {
				const started = performance.now();
				const response = await fetch(`${server.url}/v1/traces`, { method: "POST", headers: { "content-type": "application/x-protobuf" }, body });
				const text = await response.text();
				if (response.status !== 200) throw new Error(`MAX_SUBREQUESTS ${limit}: POST answered ${response.status}: ${text}`);
				if (i > 0) latencies.push(performance.now() - started);
			}
			const counts = await usage(server.url);
			const sent = requests + 1;
			const spans = sent * load.spansPerRequest;
			rows.push({
				maxSubrequests: limit,
				tracesPerRequest: traces,
				spansPerRequest: load.spansPerRequest,
				latencyMsP50: latencies.sort((a, b) => a - b)[Math.floor(latencies.length / 2)]!,
				relaysPerRequest: counts.ingestRelays / sent,
				objectCallsPerRequest: counts.objectCalls / sent,
				maxSubrequestsPerInvocation: counts.maxSubrequestsPerInvocation,
				relayUsdPerMillionSpans: ((counts.ingestRelays / spans) * 1e6 * USD_PER_MILLION.doRequests) / 1e6,
			});
		} finally {
			await server.stop();
		}
	}
	const markdown = [
		`| MAX_SUBREQUESTS | traces / request | latency p50 | relays / request | DO calls / request | most subrequests in one invocation | relays, USD per million spans |`,
		`|---|---|---|---|---|---|---|`,
		...rows.map((r) => `| ${r.maxSubrequests.toLocaleString("en-US")} | ${r.tracesPerRequest.toLocaleString("en-US")} | ${Math.round(r.latencyMsP50)} ms | ${r.relaysPerRequest.toFixed(0)} | ${r.objectCallsPerRequest.toFixed(0)} | ${r.maxSubrequestsPerInvocation} | $${r.relayUsdPerMillionSpans.toFixed(4)} |`),
	].join("\n");
	return { rows, markdown };
}
