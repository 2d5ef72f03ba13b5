// Usage: npm run otel-overhead -- [--spans 2000] [--rounds 15]
// What the OpenTelemetry bridge (src/otel/) costs per span under `wrangler dev`, against the
// runtime's own span API called directly, measured in the same run: one request runs --spans spans
// (start active, one attribute, end) in each mode; the median request time of --rounds rounds,
// less the median of an empty loop, divided by the span count. The Workers clock does not advance
// during CPU work, so the time is taken outside the Worker (loopback HTTP round trip included in
// every mode, and subtracted with the empty loop).
import { resolve } from "node:path";
import { option } from "./lib/args.ts";
import { startDevServer } from "./lib/dev-server.ts";
import { median } from "./lib/stats.ts";

const spans = Number(option("spans", "2000"));
const rounds = Number(option("rounds", "15"));
const MODES = ["none", "api-noop", "bridge-no-runtime", "runtime", "bridge", "bridge-extras"] as const;

const server = await startDevServer({ configs: [resolve(import.meta.dirname, "otel/overhead.toml")] });
try {
	const times: Record<string, number[]> = Object.fromEntries(MODES.map((m) => [m, []]));
	for (const mode of MODES) await (await fetch(`${server.url}/?mode=${mode}&n=${spans}`)).text(); // warm up
	for (let round = 0; round < rounds; round++) {
		// Modes interleaved, so drift in machine load spreads over all of them.
		for (const mode of MODES) {
			const started = performance.now();
			const response = await fetch(`${server.url}/?mode=${mode}&n=${spans}`);
			await response.text();
			if (response.status !== 200) throw new Error(`${mode}: HTTP ${response.status}`);
			times[mode]!.push(performance.now() - started);
		}
	}
	const floor = median(times.none!);
	const perSpan = (mode: string) => ((median(times[mode]!) - floor) * 1000) / spans;
	const runtime = perSpan("runtime");
	console.log(`${spans} spans per request, median of ${rounds} rounds; empty loop ${floor.toFixed(1)} ms per request`);
	console.log("mode                 µs/span   × runtime API");
	for (const mode of MODES.slice(1)) console.log(`${mode.padEnd(20)} ${perSpan(mode).toFixed(2).padStart(8)}   ${(perSpan(mode) / runtime).toFixed(2).padStart(6)}`);
} finally {
	await server.stop();
}
