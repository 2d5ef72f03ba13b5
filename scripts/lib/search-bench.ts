// The search section of `npm run bench` (alone: `npm run bench -- --search`). On `wrangler dev`:
//  - 100,000 finalized traces over the last hour in one tenant, seeded straight into the index
//    partitions by a bench-only route (scripts/bench/search-worker.ts: the real entry builder,
//    partition choice and partition writes, without 100,000 trace objects and R2 writes);
//  - p50/p99 latency of the searches Grafana makes against them, through GET /api/search and the
//    tag-values API, each repeated `--search-runs` times;
//  - through the real ingest path in another tenant: index rows written per trace (first span +
//    finalization), and the delay from a first span's acknowledgement to the trace being listed.
import { join, resolve } from "node:path";
import { option } from "./args.ts";
import { startDevServer } from "./dev-server.ts";
import { quantile } from "./stats.ts";

const ROOT = resolve(import.meta.dirname, "../..");
const TRACES = 100_000;
const SEED_CHUNK = 500;
const SAMPLE_TRACES = 200;


const log = (text: string) => process.stderr.write(`${text}\n`);
const hex = (bytes: number) => [...crypto.getRandomValues(new Uint8Array(bytes))].map((b) => b.toString(16).padStart(2, "0")).join("");

export interface SearchBenchResult {
	markdown: string;
	figures: Record<string, unknown>;
}

export async function searchBench(): Promise<SearchBenchResult> {
	const runs = Number(option("search-runs", "40"));
	const server = await startDevServer({ configs: [join(ROOT, "scripts/bench/search-wrangler.toml")], vars: { AUTH_TOKENS: "bench-token,sample-token=sample" } });
	const bench = { authorization: "Bearer bench-token" };
	const sample = { authorization: "Bearer sample-token" };
	try {
		const endMs = Date.now();
		log(`search bench: seeding ${TRACES.toLocaleString("en-US")} finalized traces over the last hour ...`);
		const seedStarted = performance.now();
		let next = 0;
		let written = 0;
		await Promise.all(
			Array.from({ length: 2 }, async () => {
				for (;;) {
					const from = next;
					next += SEED_CHUNK;
					if (from >= TRACES) return;
					const response = await fetch(`${server.url}/bench/seed?from=${from}&count=${Math.min(SEED_CHUNK, TRACES - from)}&total=${TRACES}&endMs=${endMs}`, { method: "POST" });
					if (response.status !== 200) throw new Error(`seed answered ${response.status}: ${await response.text()}`);
					// Read first: `written += await ...` would add to the value read before the await.
					const n = ((await response.json()) as { written: number }).written;
					written += n;
				}
			}),
		);
		const seedSeconds = (performance.now() - seedStarted) / 1000;
		const stored = (await (await fetch(`${server.url}/bench/rows?tenant=&fromMs=${endMs - 3_600_000}&toMs=${endMs}`)).json()) as { rowsWritten: number; rows: number };
		if (stored.rows !== TRACES) throw new Error(`the index holds ${stored.rows} entries, expected ${TRACES}`);
		log(`search bench: seeded in ${seedSeconds.toFixed(0)} s (${stored.rows} entries, ${written} rows written as counted by the cursors); timing searches ...`);
		const start = Math.floor(endMs / 1000) - 3600;
		const end = Math.ceil(endMs / 1000);
		const range = `start=${start}&end=${end}`;
		const searchUrl = (q: string, extra = "") => `${server.url}/api/search?q=${encodeURIComponent(q)}&${range}${extra}`;
		const cases: { name: string; url: string; expect?: (body: unknown) => string | undefined }[] = [
			{ name: "`{}` (limit 20)", url: searchUrl("{}"), expect: (b) => count(b) === 20 ? undefined : `expected 20 traces, got ${count(b)}` },
			{ name: '`{resource.service.name="svc-3"}`', url: searchUrl('{resource.service.name="svc-3"}'), expect: (b) => count(b) === 20 ? undefined : `expected 20 traces, got ${count(b)}` },
			{ name: "`{span.http.response.status_code=500}` (0.1% of traces)", url: searchUrl("{span.http.response.status_code=500}"), expect: (b) => count(b) === 20 ? undefined : `expected 20 traces, got ${count(b)}` },
			{ name: "`{duration>1s && status=error}` (0.5%)", url: searchUrl("{duration>1s && status=error}"), expect: (b) => count(b) === 20 ? undefined : `expected 20 traces, got ${count(b)}` },
			{ name: "tag values of `resource.service.name`", url: `${server.url}/api/v2/search/tag/resource.service.name/values?${range}`, expect: (b) => ((b as { tagValues: unknown[] }).tagValues.length === 13 ? undefined : `expected 13 values, got ${(b as { tagValues: unknown[] }).tagValues.length}`) },
		];
		// Every matching trace, once, to check the index holds what was seeded.
		const all500 = count(await getJson(searchUrl("{span.http.response.status_code=500}", "&limit=1000"), bench));
		if (all500 !== TRACES / 1000) throw new Error(`status_code=500 found ${all500} traces, expected ${TRACES / 1000}`);
		const timings: Record<string, number[]> = {};
		for (const c of cases) {
			const body = await getJson(c.url, bench); // warm
			const problem = c.expect?.(body);
			if (problem) throw new Error(`${c.name}: ${problem}`);
			timings[c.name] = [];
		}
		for (let run = 0; run < runs; run++) {
			for (const c of cases) {
				const t0 = performance.now();
				await getJson(c.url, bench);
				timings[c.name]!.push(performance.now() - t0);
			}
		}

		// The real path, in tenant "sample": first span, more spans, finalization.
		log(`search bench: ${SAMPLE_TRACES} traces through ingest, finalization and the index ...`);
		const sampleStart = Date.now();
		const sampleIds: string[] = [];
		const listedAfter: number[] = [];
		for (let i = 0; i < SAMPLE_TRACES; i++) {
			const traceId = hex(16);
			sampleIds.push(traceId);
			const root = hex(8);
			await post(server.url, sample, [{ traceId, spanId: root, name: "root", service: `sample-${i % 4}` }]);
			if (i < 10) {
				// From the first span's acknowledgement to the trace being listed by {}.
				const acked = performance.now();
				for (;;) {
					const ids = ((await getJson(`${server.url}/api/search?q=%7B%7D&limit=50`, sample)) as { traces?: { traceID: string }[] }).traces?.map((t) => t.traceID) ?? [];
					if (ids.includes(traceId)) break;
					if (performance.now() - acked > 10_000) throw new Error(`open trace ${traceId} not listed within 10 s`);
					await new Promise((r) => setTimeout(r, 20));
				}
				listedAfter.push(performance.now() - acked);
			}
			await post(server.url, sample, [1, 2, 3].map((k) => ({ traceId, spanId: hex(8), parentSpanId: root, name: `child-${k}`, service: "sample-db" })));
		}
		// QUIET_PERIOD_MS is 1 s in this config: wait for every finalization to reach the index.
		const deadline = Date.now() + 60_000;
		let finalized = 0;
		while (Date.now() < deadline) {
			finalized = count(await getJson(`${server.url}/api/search?q=${encodeURIComponent('{resource.service.name="sample-db"}')}&limit=1000`, sample));
			const children = ((await getJson(`${server.url}/api/search?q=${encodeURIComponent("{}")}&limit=1000`, sample)) as { traces?: { rootTraceName?: string; spanSets: { matched: number }[] }[] }).traces ?? [];
			if (finalized === SAMPLE_TRACES && children.every((t) => t.spanSets[0]!.matched === 4)) break;
			await new Promise((r) => setTimeout(r, 500));
		}
		const rows = (await (await fetch(`${server.url}/bench/rows?tenant=sample&fromMs=${sampleStart - 3_600_000}&toMs=${Date.now()}`)).json()) as { rowsWritten: number; rows: number };

		const ms = (n: number) => `${n.toFixed(n < 10 ? 1 : 0)} ms`;
		const lines = ["| search over 100,000 traces in one hour, one tenant | p50 | p99 |", "|---|---|---|"];
		const figures: Record<string, unknown> = { traces: TRACES, runs, seedSeconds, entries: stored.rows };
		for (const c of cases) {
			const xs = timings[c.name]!;
			figures[c.name] = { p50: quantile(xs, 0.5), p99: quantile(xs, 0.99) };
			lines.push(`| ${c.name} | ${ms(quantile(xs, 0.5))} | ${ms(quantile(xs, 0.99))} |`);
		}
		figures.sample = { traces: SAMPLE_TRACES, finalizedFound: finalized, rowsWritten: rows.rowsWritten, rows: rows.rows, listedAfterMs: listedAfter };
		lines.push("", "| search index, real ingest path | value |", "|---|---|");
		lines.push(`| index rows written per trace (first span + finalization; ${SAMPLE_TRACES} traces, 2 requests each) | ${(rows.rowsWritten / SAMPLE_TRACES).toFixed(2)} (${rows.rows} entries; ${finalized} found after finalization) |`);
		lines.push(`| first span acknowledged → listed by \`{}\` (${listedAfter.length} traces) | p50 ${ms(quantile(listedAfter, 0.5))}, max ${ms(Math.max(...listedAfter))} |`);
		lines.push(`| seeding 100,000 entries through partition writes (bench-only route) | ${seedSeconds.toFixed(0)} s |`);
		return { markdown: lines.join("\n"), figures };
	} finally {
		await server.stop();
	}
}

function count(body: unknown): number {
	return ((body as { traces?: unknown[] }).traces ?? []).length;
}

async function getJson(url: string, headers: Record<string, string>): Promise<unknown> {
	const response = await fetch(url, { headers });
	const text = await response.text();
	if (response.status !== 200) throw new Error(`GET ${url} answered ${response.status}: ${text}`);
	return JSON.parse(text);
}

interface SampleSpan {
	traceId: string;
	spanId: string;
	parentSpanId?: string;
	name: string;
	service: string;
}

async function post(url: string, headers: Record<string, string>, spans: SampleSpan[]): Promise<void> {
	const now = BigInt(Date.now()) * 1_000_000n;
	const body = {
		resourceSpans: [...new Set(spans.map((s) => s.service))].map((service) => ({
			resource: { attributes: [{ key: "service.name", value: { stringValue: service } }] },
			scopeSpans: [
				{
					scope: { name: "bench" },
					spans: spans.filter((s) => s.service === service).map((s) => ({ traceId: s.traceId, spanId: s.spanId, parentSpanId: s.parentSpanId ?? "", name: s.name, kind: 2, startTimeUnixNano: String(now), endTimeUnixNano: String(now + 5_000_000n) })),
				},
			],
		})),
	};
	const response = await fetch(`${url}/v1/traces`, { method: "POST", headers: { ...headers, "content-type": "application/json" }, body: JSON.stringify(body) });
	if (response.status !== 200) throw new Error(`POST answered ${response.status}: ${await response.text()}`);
	await response.arrayBuffer();
}
