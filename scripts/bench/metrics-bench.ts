// The metrics section of `npm run bench -- --search` (alone: `npm run bench -- --metrics`).
// Usage: npm run bench -- --metrics [--metrics-runs 20] [--metrics-traces 100000]
// On `wrangler dev`: 100,000 finalized 64-span traces over the last hour, seeded straight into the
// index partitions (scripts/bench/metrics-worker.ts: the real entry builder, rollups and partition
// writes); then the Traces Drilldown's first page as Grafana asks for it (start/end in seconds,
// the Drilldown's steps), each query repeated: p50/p99 latency and index rows read per query
// (from /debug/usage). One query that rollups cannot answer shows the exact path's cost beside it.
import { join, resolve } from "node:path";
import { option } from "../lib/args.ts";
import { startDevServer } from "../lib/dev-server.ts";

const ROOT = resolve(import.meta.dirname, "../..");
const SEED_CHUNK = 250;

const log = (text: string) => process.stderr.write(`${text}\n`);

/** The q-quantile by nearest rank (p50 of an even count is the lower middle). */
function quantile(xs: number[], q: number): number {
	const sorted = [...xs].sort((a, b) => a - b);
	return sorted[Math.max(0, Math.ceil(q * sorted.length) - 1)] ?? Number.NaN;
}

export async function metricsBench(): Promise<{ markdown: string; figures: Record<string, unknown> }> {
	const runs = Number(option("metrics-runs", "20"));
	const traces = Number(option("metrics-traces", "100000"));
	const server = await startDevServer({ configs: [join(ROOT, "scripts/bench/metrics-wrangler.toml")], vars: { AUTH_TOKENS: "bench-token" } });
	const auth = { authorization: "Bearer bench-token" };
	try {
		const endMs = Date.now();
		log(`metrics bench: seeding ${traces.toLocaleString("en-US")} finalized 64-span traces over the last hour ...`);
		const seedStarted = performance.now();
		let next = 0;
		await Promise.all(
			Array.from({ length: 2 }, async () => {
				for (;;) {
					const from = next;
					next += SEED_CHUNK;
					if (from >= traces) return;
					// A chunk is idempotent (the same rows, the same versions): retried if the dev server restarted under it.
					for (let attempt = 1; ; attempt++) {
						const response = await fetch(`${server.url}/bench/seed64?from=${from}&count=${Math.min(SEED_CHUNK, traces - from)}&total=${traces}&endMs=${endMs}`, { method: "POST" });
						const text = await response.text();
						if (response.status === 200) break;
						if (attempt >= 3) throw new Error(`seed answered ${response.status}: ${text}`);
					}
				}
			}),
		);
		const seedSeconds = (performance.now() - seedStarted) / 1000;
		log(`metrics bench: seeded in ${seedSeconds.toFixed(0)} s; timing the Drilldown's first page ...`);
		const end = Math.ceil(endMs / 1000);
		const hour = { start: end - 3600, end };
		const halfHour = { start: end - 1800, end };
		const cases = [
			{ name: "RED rate `{nestedSetParent<0 && true} | rate()  with(sample=true)`", q: "{nestedSetParent<0 && true} | rate()  with(sample=true)", range: hour, step: "56s" },
			{ name: "RED errors `{… && status=error} | rate()  with(sample=true)`", q: "{nestedSetParent<0 && true && status=error} | rate()  with(sample=true)", range: hour, step: "56s" },
			{ name: "RED duration `| histogram_over_time(duration) with(sample=true)`, 30 min", q: "{nestedSetParent<0 && true} | histogram_over_time(duration) with(sample=true)", range: halfHour, step: "75s" },
			{ name: "breakdown `| rate() by(resource.service.name)`", q: "{nestedSetParent<0 && true && resource.service.name != nil} | rate() by(resource.service.name)", range: hour, step: "56s" },
			{ name: "all spans `{true && true} | rate() by(resource.service.name)` (rollups of every span)", q: "{true && true && resource.service.name != nil} | rate() by(resource.service.name)", range: hour, step: "56s" },
			{ name: "exact path (no rollup): `{nestedSetParent<0 && true && duration >= 0} | rate()`", q: "{nestedSetParent<0 && true && duration >= 0} | rate()", range: halfHour, step: "28s", runs: 3 },
		];
		const lines = [
			`| metrics query (${traces.toLocaleString("en-US")} traces × 64 spans in the hour; ${runs} runs) | p50 | p99 | index rows read per query | series |`,
			"|---|---|---|---|---|",
		];
		const figures: Record<string, unknown> = { traces, spansPerTrace: 64, runs, seedSeconds };
		for (const c of cases) {
			const url = `${server.url}/api/metrics/query_range?q=${encodeURIComponent(c.q)}&start=${c.range.start}&end=${c.range.end}&step=${c.step}`;
			const first = await getJson(url, auth); // warm, and check the answer counts every trace
			const series = (first as { series: { samples: { value?: number }[] }[] }).series;
			const timings: number[] = [];
			const rows: number[] = [];
			for (let i = 0; i < (c.runs ?? runs); i++) {
				const before = await usage(server.url, auth);
				const t0 = performance.now();
				await getJson(url, auth);
				timings.push(performance.now() - t0);
				rows.push((await usage(server.url, auth)) - before);
			}
			const p50 = quantile(timings, 0.5);
			const p99 = quantile(timings, 0.99);
			figures[c.q] = { p50Ms: p50, p99Ms: p99, rowsRead: quantile(rows, 0.5), series: series.length };
			lines.push(`| ${c.name.replaceAll("|", "\\|")} | ${p50.toFixed(0)} ms | ${p99.toFixed(0)} ms | ${quantile(rows, 0.5).toLocaleString("en-US")} | ${series.length} |`);
		}
		return { markdown: lines.join("\n"), figures };
	} finally {
		await server.stop();
	}
}

async function usage(url: string, headers: Record<string, string>): Promise<number> {
	return ((await getJson(`${url}/debug/usage`, headers)) as { rowsRead: number }).rowsRead;
}

async function getJson(url: string, headers: Record<string, string>): Promise<unknown> {
	const response = await fetch(url, { headers });
	const text = await response.text();
	if (response.status !== 200) throw new Error(`GET ${url} answered ${response.status}: ${text.slice(0, 300)}`);
	return JSON.parse(text);
}
