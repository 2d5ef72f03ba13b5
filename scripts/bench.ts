// Usage: npm run bench -- [--rounds 3] [--requests 120] [--clients 4] [--traces 64] [--json results.json] [--profile] [--cost] [--forward-cost] [--lifecycle] [--search [--search-runs 40]] [--metrics [--metrics-runs 20] [--metrics-traces 100000]] [--scale [--scale-seconds 10] [--ops-usd 0.348]] [--fan-out [--fan-out-traces 1000] [--fan-out-requests 6]]
// Measures the assembler under `wrangler dev` against its floors, in one run on one machine:
//  - the headline: ingest against the lifecycle floor, both finalizing as they go
//    (scripts/bench/lifecycle-floor.ts: the design floor plus, per trace, one alarm, one R2 write of
//    its parts and one index row), the median of per-round ratios of runs made back to back;
//    `--lifecycle` runs only this;
//  - ingest throughput and request latency for protobuf and JSON (512 spans over 64 traces per
//    request, traces continuing over 8 requests, 4 concurrent clients), interleaved round by round
//    with the same load against a null Worker in the same runtime (the transport floor) and
//    against the design floor (scripts/bench/design-floor.ts: split by trace id, one object call
//    and one INSERT per trace part, an alarm set once);
//  - what a million spans cost (scripts/lib/cost.ts), for the standard load and a Cloudflare-
//    export-shaped one, from what the objects counted themselves; `--cost` runs only this;
//  - the same with stitching (every second trace joins another) and live subscribers on;
//  - decode-only throughput of the same payloads in this process (the parsing floor, one core);
//  - delay from a trace's last span to its R2 object beyond the quiet period, under load;
//  - read latency of a 10,000-span trace, open and finalized; memory an object holds per span;
//  - 10,000 traces open at once.
// The search section (scripts/lib/search-bench.ts) runs last; --search runs only it.
// --scale runs only the index's scale section (scripts/bench/scale.ts): bytes per entry, one
// partition's sustained writes/s, and the shards, GB and $ per million spans at 1k-1M spans/s.
// --profile also prints where workerd spends its CPU during one protobuf run (V8's sampling profiler
// through wrangler's inspector; function names and lines refer to wrangler's bundle).
// The machine is shared and noisy: each figure is the median of the rounds, and ratios compare
// runs made minutes apart at most.
import "./lib/ts-resolve.ts";
import { writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { fromBinary, fromJson, type JsonValue } from "@bufbuild/protobuf";
import { hasFlag, option } from "./lib/args.ts";
import { startDevServer, type DevServer } from "./lib/dev-server.ts";
import { connectInspector, profileSelfTime } from "./lib/inspector.ts";
import { median, quantile } from "./lib/stats.ts";
import type { Load } from "./lib/bench-load.ts";

// Imported once the resolve hook is in place (the sources import without extensions).
const { buildLoad } = await import("./lib/bench-load.ts");
const { cloudflareExportCost, costJson, costTable, standardCost } = await import("./lib/cost.ts");
const { forwardingCost } = await import("./bench/forward-cost.ts");

if (hasFlag("forward-cost")) {
	process.stdout.write(`${(await forwardingCost((line) => process.stderr.write(`${line}\n`))).table}\n`);
	process.exit(0);
}
const { ExportTraceServiceRequestSchema } = await import("../src/gen/opentelemetry/proto/collector/trace/v1/trace_service_pb.ts");
const { splitRequest } = await import("../src/ingest/split.ts");
const { PartStore } = await import("../src/assembler/part-store.ts");
const { forEachSpan } = await import("../src/otlp/wire.ts");
const { spanIdentity } = await import("../src/otlp/span-facts.ts");

// --fan-out: export requests with more traces than MAX_SUBREQUESTS, through ingest relays (scripts/bench/fan-out.ts).
if (hasFlag("fan-out")) {
	const { fanOutBench } = await import("./bench/fan-out.ts");
	const result = await fanOutBench(Number(option("fan-out-traces", "1000")), Number(option("fan-out-requests", "6")));
	process.stdout.write(`${result.markdown}\n`);
	if (option("json")) writeFileSync(option("json")!, JSON.stringify({ fanOut: result.rows }, null, 2));
	process.exit(0);
}

if (hasFlag("scale")) {
	const { scaleBench } = await import("./bench/scale.ts");
	process.stdout.write(`${(await scaleBench()).markdown}\n`);
	process.exit(0);
}

if (hasFlag("search")) {
	const { searchBench } = await import("./lib/search-bench.ts");
	process.stdout.write(`${(await searchBench()).markdown}\n`);
	// The metrics section (TraceQL metrics over 64-span traces): its own file and dev server.
	const { metricsBench } = await import("./bench/metrics-bench.ts");
	process.stdout.write(`\n${(await metricsBench()).markdown}\n`);
	process.exit(0);
}
if (hasFlag("metrics")) {
	const { metricsBench } = await import("./bench/metrics-bench.ts");
	process.stdout.write(`${(await metricsBench()).markdown}\n`);
	process.exit(0);
}

const rounds = Number(option("rounds", "3"));
const requests = Number(option("requests", "120"));
const clients = Number(option("clients", "4"));
const tracesPerRequest = Number(option("traces", "64"));
const jsonOut = option("json", "");
const profile = hasFlag("profile");
const costOnly = hasFlag("cost");
const lifecycleOnly = hasFlag("lifecycle");
const QUIET_MS = 1000;
const MEMORY_SPANS = 40_000;
const ROOT = resolve(import.meta.dirname, "..");
type Encoding = "protobuf" | "json";
const CONTENT_TYPE: Record<Encoding, string> = { protobuf: "application/x-protobuf", json: "application/json" };

const log = (text: string) => process.stderr.write(`${text}\n`);

interface Run {
	spansPerSecond: number;
	latencies: number[];
	failed: number;
}

const failureKinds = new Set<number>();

/** Sends `total` bodies (cycling through `bodies`) from `clients` concurrent clients. */
async function drive(url: string, bodies: Uint8Array[], encoding: Encoding, spansPerRequest: number, total = bodies.length): Promise<Run> {
	let next = 0;
	let ok = 0;
	let failed = 0;
	const latencies: number[] = [];
	const started = performance.now();
	await Promise.all(
		Array.from({ length: clients }, async () => {
			for (;;) {
				const i = next++;
				if (i >= total) return;
				const t0 = performance.now();
				let response: Response;
				let answer: ArrayBuffer;
				try {
					response = await fetch(`${url}/v1/traces`, { method: "POST", headers: { "content-type": CONTENT_TYPE[encoding] }, body: bodies[i % bodies.length] });
					answer = await response.arrayBuffer();
				} catch (e) {
					// A connection wrangler's proxy dropped under load: a failed request, not a failed run.
					log(`request failed: ${String(e)}`);
					failed++;
					continue;
				}
				latencies.push(performance.now() - t0);
				// A 200 with partial success would hide refused spans: the load has none to refuse.
				if (response.status === 200 && !(encoding === "json" && new TextDecoder().decode(answer).includes("rejected"))) ok++;
				else {
					failed++;
					// Each kind of failure once, so a run that fails says why.
					const why = `${response.status} ${new TextDecoder().decode(answer).slice(0, 160)}`;
					if (!failureKinds.has(response.status)) log(`request failed: ${(failureKinds.add(response.status), why)}`);
				}
			}
		}),
	);
	return { spansPerSecond: (ok * spansPerRequest) / ((performance.now() - started) / 1000), latencies, failed };
}

function decodeFloor(load: Load, encoding: Encoding): { full: number; split: number } {
	const time = (fn: (body: Uint8Array) => void) => {
		const started = performance.now();
		for (const body of load[encoding]) fn(body);
		return (load[encoding].length * load.spansPerRequest) / ((performance.now() - started) / 1000);
	};
	const decoder = new TextDecoder();
	const full = encoding === "protobuf"
		? (body: Uint8Array) => void fromBinary(ExportTraceServiceRequestSchema, body)
		: (body: Uint8Array) => void fromJson(ExportTraceServiceRequestSchema, JSON.parse(decoder.decode(body)) as JsonValue, { ignoreUnknownFields: true });
	const split = (body: Uint8Array) => {
		for (const part of splitRequest(body, encoding).parts.values()) part.finish();
	};
	time(full); // warm up the JIT
	time(split);
	return { full: Math.max(time(full), time(full)), split: Math.max(time(split), time(split)) };
}

/**
 * What a trace's object keeps in its isolate's memory per buffered span: the object's own span
 * store (src/assembler/part-store.ts) fed the same batches, here in Node, where a full garbage
 * collection can be forced before and after. SQLite is a stub: on Cloudflare the database is not
 * in the isolate's 128 MB. Each batch is copied first, as an RPC delivers it.
 */
function objectMemoryPerSpan(batches: Uint8Array[], spans: number): number {
	const collect = (globalThis as { gc?: () => void }).gc;
	if (!collect) return Number.NaN;
	const rows = { toArray: () => [], rowsRead: 0, rowsWritten: 0, [Symbol.iterator]: function* () {} };
	const sql = { exec: () => rows } as unknown as SqlStorage;
	const measure = () => {
		collect();
		const usage = process.memoryUsage();
		return usage.heapUsed + usage.arrayBuffers;
	};
	const before = measure();
	const store = new PartStore(sql);
	for (const batch of batches) {
		const copy = new Uint8Array(batch);
		const incoming: { resourceHead: Uint8Array; scopeHead: Uint8Array; body: Uint8Array; identity: Uint8Array }[] = [];
		forEachSpan(copy, (resourceHead, scopeHead, body) => incoming.push({ resourceHead, scopeHead, body, identity: spanIdentity(body) }));
		store.add({ tenant: "", traceId: "bench" }, incoming, { spans: Number.MAX_SAFE_INTEGER, bytes: Number.MAX_SAFE_INTEGER }, Date.now(), copy);
	}
	const after = measure();
	if (store.pending.length !== spans) throw new Error(`span store holds ${store.pending.length} of ${spans} spans`);
	return (after - before) / spans;
}

interface Subscription {
	finalizedAt: Promise<number>;
	close(): void;
}

function subscribe(url: string, traceId: string): Promise<Subscription> {
	const socket = new WebSocket(`${url.replace(/^http/, "ws")}/v1/traces/${traceId}/live`);
	let finalized!: (at: number) => void;
	const finalizedAt = new Promise<number>((r) => (finalized = r));
	return new Promise((resolveOpen, reject) => {
		socket.addEventListener("error", () => reject(new Error(`subscription to ${traceId} failed`)));
		socket.addEventListener("message", (event) => {
			const frame = JSON.parse(String(event.data)) as { type: string; last?: boolean };
			if (frame.type === "snapshot" && frame.last) resolveOpen({ finalizedAt, close: () => socket.close() });
			if (frame.type === "finalized") finalized(performance.now());
		});
	});
}

async function post(url: string, body: Uint8Array, encoding: Encoding): Promise<void> {
	const response = await fetch(`${url}/v1/traces`, { method: "POST", headers: { "content-type": CONTENT_TYPE[encoding] }, body });
	if (response.status !== 200) throw new Error(`POST answered ${response.status}: ${await response.text()}`);
}

async function timedReads(url: string, traceId: string, accept: string, times = 7): Promise<number> {
	const samples: number[] = [];
	for (let i = 0; i < times; i++) {
		const t0 = performance.now();
		const response = await fetch(`${url}/v1/traces/${traceId}`, { headers: { accept } });
		await response.arrayBuffer();
		if (response.status !== 200) throw new Error(`read answered ${response.status}`);
		samples.push(performance.now() - t0);
	}
	return median(samples);
}

/** One trace of `spans` spans in requests of 500, protobuf. */
async function bigTrace(url: string, spans: number): Promise<{ traceId: string; bytes: number }> {
	const load = buildLoad({ requests: spans / 500, spansPerRequest: 500, tracesPerRequest: 1, requestsPerTrace: spans / 500 });
	for (const body of load.protobuf) await post(url, body, "protobuf");
	return { traceId: load.traceIds[0]!, bytes: load.protobuf.reduce((n, b) => n + b.length, 0) };
}

/** Both cost shapes, one after the other, each on its own fresh server. */
async function measureCost() {
	log("cost: standard load (protobuf, 64-span traces in 8 parts) on a fresh server with COUNT_USAGE=true ...");
	const standard = await standardCost();
	log("cost: Cloudflare-export-shaped load (JSON, each trace in 4 parts arriving after it was finalized) ...");
	const cloudflareExport = await cloudflareExportCost();
	// Forwarding and tail sampling (scripts/bench/forward-cost.ts).
	const forwarding = await forwardingCost(log);
	return { standard, cloudflareExport, table: `${costTable(standard, cloudflareExport)}\n\n${forwarding.table}`, json: { standard: costJson(standard), cloudflareExport: costJson(cloudflareExport), forwarding: forwarding.results } };
}

/**
 * One round of the headline: the assembler (1 s quiet period: it finalizes during the run) and the
 * lifecycle floor (the same quiet period) take the same load back to back, in alternating order.
 * Fresh trace ids each time, so every trace opens, finalizes and is indexed during the run.
 */
async function lifecycleRound(assemblerUrl: string, floorUrl: string, encoding: Encoding, round: number): Promise<{ assembler: Run; floor: Run }> {
	const assemblerLoad = buildLoad({ requests, tracesPerRequest });
	const floorLoad = buildLoad({ requests, tracesPerRequest });
	// Each run's last traces finalize after it ends: wait for that before the other run starts, or
	// one system's finalizations would be timed in the other's run.
	const assemblerRun = async () => {
		const run = await drive(assemblerUrl, assemblerLoad[encoding], encoding, 512);
		await settled(async () => (await usageOf(assemblerUrl)).r2ClassA);
		return run;
	};
	const floorRun = async () => {
		const run = await drive(floorUrl, floorLoad[encoding], encoding, 512);
		await settled(() => floorIndexed(floorUrl));
		return run;
	};
	if (round % 2 === 1) {
		const assembler = await assemblerRun();
		return { assembler, floor: await floorRun() };
	}
	const floor = await floorRun();
	return { floor, assembler: await assemblerRun() };
}

function lifecycleTable(ratios: Partial<Record<Encoding, number[]>>, runs: Record<string, Run[]>, indexed: number): string {
	const pct = (n: number) => `${(n * 100).toFixed(1)}%`;
	const fmt = (n: number) => Math.round(n).toLocaleString("en-US");
	const rows = [
		"| headline: ingest vs lifecycle floor, both finalizing as they go (median of per-round ratios) | assembler spans/s | lifecycle floor spans/s | ratio | per round |",
		"|---|---|---|---|---|",
	];
	for (const encoding of ["protobuf", "json"] as const) {
		const xs = ratios[encoding] ?? [];
		rows.push(`| ${encoding} | ${fmt(median((runs[`${encoding} assembler, finalizing`] ?? []).map((r) => r.spansPerSecond)))} | ${fmt(median((runs[`${encoding} lifecycle floor`] ?? []).map((r) => r.spansPerSecond)))} | ${pct(median(xs))} | ${xs.map(pct).join(", ")} |`);
	}
	rows.push("", `(the lifecycle floor indexed ${fmt(indexed)} finalized traces during the runs)`);
	return rows.join("\n");
}

/** Waits until `count` has not moved for two quiet periods (at most a minute). */
async function settled(count: () => Promise<number>): Promise<void> {
	const deadline = performance.now() + 60_000;
	let last = await count();
	let stableSince = performance.now();
	while (performance.now() < deadline) {
		await new Promise((r) => setTimeout(r, 250));
		const now = await count();
		if (now !== last) [last, stableSince] = [now, performance.now()];
		else if (performance.now() - stableSince >= 2 * QUIET_MS) return;
	}
}

async function usageOf(url: string): Promise<{ r2ClassA: number }> {
	return (await (await fetch(`${url}/debug/usage`)).json()) as { r2ClassA: number };
}

async function floorIndexed(url: string): Promise<number> {
	return ((await (await fetch(`${url}/floor/indexed`)).json()) as { indexed: number }).indexed;
}

// ---------------------------------------------------------------------------------------------

if (lifecycleOnly) {
	log(`bench --lifecycle: ${rounds} rounds × ${requests} requests × 512 spans, ${clients} clients; assembler and lifecycle floor, ${QUIET_MS} ms quiet period ...`);
	const [assembler, lifecycle] = await Promise.all([
		// COUNT_USAGE tells when its finalizations have settled between runs (R2 writes stop).
		startDevServer({ vars: { ALLOW_ANONYMOUS: "true", COUNT_USAGE: "true", QUIET_PERIOD_MS: String(QUIET_MS), MAX_SPANS_PER_TRACE: "50000" } }),
		startDevServer({ configs: [join(ROOT, "scripts/bench/lifecycle-floor.toml")], vars: { QUIET_PERIOD_MS: String(QUIET_MS) } }),
	]);
	process.on("SIGINT", async () => {
		await Promise.all([assembler.stop(), lifecycle.stop()]);
		process.exit(130);
	});
	try {
		const warm = buildLoad({ requests: 8 });
		for (const encoding of ["protobuf", "json"] as const) {
			await drive(assembler.url, warm[encoding], encoding, 512);
			await drive(lifecycle.url, warm[encoding], encoding, 512);
		}
		const ratios: Partial<Record<Encoding, number[]>> = {};
		const runs: Record<string, Run[]> = {};
		for (let round = 1; round <= rounds; round++) {
			for (const encoding of ["protobuf", "json"] as const) {
				const { assembler: a, floor: f } = await lifecycleRound(assembler.url, lifecycle.url, encoding, round);
				(runs[`${encoding} assembler, finalizing`] ??= []).push(a);
				(runs[`${encoding} lifecycle floor`] ??= []).push(f);
				(ratios[encoding] ??= []).push(a.spansPerSecond / f.spansPerSecond);
				log(`round ${round} ${encoding}: assembler ${Math.round(a.spansPerSecond)} spans/s, lifecycle floor ${Math.round(f.spansPerSecond)} (${Math.round((100 * a.spansPerSecond) / f.spansPerSecond)}%), failed ${a.failed}/${f.failed}`);
			}
		}
		process.stdout.write(`${lifecycleTable(ratios, runs, await floorIndexed(lifecycle.url))}\n`);
		if (jsonOut) writeFileSync(jsonOut, JSON.stringify({ lifecycleRatios: ratios }, null, 2));
	} finally {
		await Promise.all([assembler.stop(), lifecycle.stop()]);
	}
	process.exit(0);
}

if (costOnly) {
	const cost = await measureCost();
	process.stdout.write(`${cost.table}\n`);
	if (jsonOut) writeFileSync(jsonOut, JSON.stringify({ cost: cost.json }, null, 2));
	process.exit(0);
}

log(`bench: ${rounds} rounds × ${requests} requests × 512 spans, ${clients} clients; starting wrangler dev (assembler and null Worker) ...`);
const vars = { ALLOW_ANONYMOUS: "true", QUIET_PERIOD_MS: String(QUIET_MS), MAX_SPANS_PER_TRACE: "50000" };
// Plain ingest is timed on a server whose quiet period outlasts the run, as the design floor never
// finalizes; `real` (1 s quiet period) takes the stitched + live runs, finalizing as it goes.
const heldVars = { ...vars, QUIET_PERIOD_MS: "600000", MAX_TRACE_AGE_MS: "600000" };
const [real, ingest, floor, designFloor, lifecycleFloor] = await Promise.all([
	// COUNT_USAGE: the lifecycle headline waits for its finalizations to settle between runs.
	startDevServer({ vars: { ...vars, COUNT_USAGE: "true" } }),
	startDevServer({ vars: heldVars }),
	startDevServer({ configs: [join(ROOT, "scripts/bench/wrangler.toml")] }),
	startDevServer({ configs: [join(ROOT, "scripts/bench/design-floor.toml")] }),
	startDevServer({ configs: [join(ROOT, "scripts/bench/lifecycle-floor.toml")], vars: { QUIET_PERIOD_MS: String(QUIET_MS) } }),
]);
const servers: DevServer[] = [real, ingest, floor, designFloor, lifecycleFloor];
process.on("SIGINT", async () => {
	await Promise.all(servers.map((s) => s.stop()));
	process.exit(130);
});

try {
	// Warm both servers (first requests compile code and create storage).
	const warm = buildLoad({ requests: 8 });
	for (const encoding of ["protobuf", "json"] as const) {
		await drive(real.url, warm[encoding], encoding, 512);
		await drive(ingest.url, warm[encoding], encoding, 512);
		await drive(floor.url, warm[encoding], encoding, 512);
		await drive(designFloor.url, warm[encoding], encoding, 512);
		await drive(lifecycleFloor.url, warm[encoding], encoding, 512);
	}

	if (profile) {
		const inspector = await connectInspector(real.inspectorUrl);
		const load = buildLoad({ requests: 48, tracesPerRequest });
		const hot = await profileSelfTime(inspector, () => drive(real.url, load.protobuf, "protobuf", 512));
		inspector.close();
		process.stdout.write(`| workerd self time, one protobuf run | share |\n|---|---|\n${hot.map((h) => `| ${h.name} | ${(h.share * 100).toFixed(1)}% |`).join("\n")}\n\n`);
	}

	const results: Record<string, Run[]> = {};
	const record = (name: string, run: Run) => (results[name] ??= []).push(run);
	const finalizeDelays: number[] = [];
	/** Assembler ÷ design floor, per round (the runs of one round are seconds apart). */
	const designRatios: Partial<Record<Encoding, number[]>> = {};
	/** Assembler (finalizing) ÷ lifecycle floor, per round: the headline. */
	const lifecycleRatios: Partial<Record<Encoding, number[]>> = {};
	const parsing: Record<Encoding, { full: number; split: number }> = { protobuf: { full: 0, split: 0 }, json: { full: 0, split: 0 } };

	for (let round = 1; round <= rounds; round++) {
		for (const encoding of ["protobuf", "json"] as const) {
			const plain = buildLoad({ requests, tracesPerRequest });
			const stitched = buildLoad({ requests, tracesPerRequest, stitch: true });
			if (round === 1) parsing[encoding] = decodeFloor(plain, encoding);
			// The assembler and its design floor run back to back, in alternating order, so that each
			// round's ratio compares runs under the same machine load.
			const assemblerRun = () => drive(ingest.url, plain[encoding], encoding, 512);
			const designRun = () => drive(designFloor.url, plain[encoding], encoding, 512);
			let assembled: Run;
			let designed: Run;
			if (round % 2 === 1) {
				assembled = await assemblerRun();
				designed = await designRun();
			} else {
				designed = await designRun();
				assembled = await assemblerRun();
			}
			record(`${encoding} assembler`, assembled);
			record(`${encoding} design floor`, designed);
			(designRatios[encoding] ??= []).push(assembled.spansPerSecond / designed.spansPerSecond);
			record(`${encoding} floor`, await drive(floor.url, plain[encoding], encoding, 512, requests * 3));
			const lifecycle = await lifecycleRound(real.url, lifecycleFloor.url, encoding, round);
			record(`${encoding} assembler, finalizing`, lifecycle.assembler);
			record(`${encoding} lifecycle floor`, lifecycle.floor);
			(lifecycleRatios[encoding] ??= []).push(lifecycle.assembler.spansPerSecond / lifecycle.floor.spansPerSecond);
			// Stitching and live subscribers on: the 32 parent traces of the load's last group are
			// watched from before their first span to their `finalized` event. Their last spans are in
			// the last requests, so the delay from the end of the load times finalization under load.
			const watched = stitched.traceIds.slice(-tracesPerRequest).filter((_, i) => i % 2 === 0);
			const subscriptions = await Promise.all(watched.map((id) => subscribe(real.url, id)));
			const run = await drive(real.url, stitched[encoding], encoding, 512);
			const lastSpanAt = performance.now();
			record(`${encoding} assembler, stitching + live`, run);
			// Watched traces got their last span in the load's last requests at the latest.
			const finalized = await Promise.all(subscriptions.map((s) => Promise.race([s.finalizedAt, new Promise<number>((r) => setTimeout(() => r(Number.NaN), 30_000))])));
			for (const at of finalized) if (Number.isFinite(at)) finalizeDelays.push(Math.max(0, at - lastSpanAt - QUIET_MS));
			subscriptions.forEach((s) => s.close());
			log(`round ${round} ${encoding}: assembler ${Math.round(results[`${encoding} assembler`]!.at(-1)!.spansPerSecond)} spans/s, floor ${Math.round(results[`${encoding} floor`]!.at(-1)!.spansPerSecond)}, design floor ${Math.round(results[`${encoding} design floor`]!.at(-1)!.spansPerSecond)}, stitched+live ${Math.round(run.spansPerSecond)}`);
		}
	}

	// A 10,000-span trace: read while open, then after finalization.
	const big = await bigTrace(real.url, 10_000);
	const bigSub = await subscribe(real.url, big.traceId);
	const openRead = await timedReads(real.url, big.traceId, "application/json", 3);
	await bigSub.finalizedAt;
	bigSub.close();
	const finalJson = await timedReads(real.url, big.traceId, "application/json");
	const finalProtobuf = await timedReads(real.url, big.traceId, "application/x-protobuf");

	const lifecycleIndexed = await floorIndexed(lifecycleFloor.url);
	// 10,000 traces open at once: a server whose quiet period outlasts the test.
	await Promise.all([real.stop(), ingest.stop(), floor.stop(), designFloor.stop(), lifecycleFloor.stop()]);
	servers.splice(0);
	const held = await startDevServer({ vars: heldVars });
	servers.push(held);
	// Memory per buffered span: workerd's resident memory before and after one 40,000-span trace
	// arrives, on this fresh server (after the load above, garbage collection would blur it).
	await bigTrace(held.url, 500);
	const rssBefore = held.workerdRss();
	await bigTrace(held.url, MEMORY_SPANS);
	const rssAfter = held.workerdRss();
	const manyLoad = buildLoad({ requests: 40, spansPerRequest: 500, tracesPerRequest: 250, requestsPerTrace: 1 });
	const many = await drive(held.url, manyLoad.protobuf, "protobuf", 500);
	const sample = manyLoad.traceIds.filter((_, i) => i % 100 === 0);
	let readable = 0;
	for (const id of sample) {
		const response = await fetch(`${held.url}/v1/traces/${id}`);
		await response.arrayBuffer();
		if (response.status === 200 && response.headers.get("x-trace-status") === "partial") readable++;
	}
	const heldBig = await bigTrace(held.url, 10_000);
	const heldOpenRead = await timedReads(held.url, heldBig.traceId, "application/json");

	// ---------------------------------------------------------------------------------------
	const fmt = (n: number) => (Number.isFinite(n) ? Math.round(n).toLocaleString("en-US") : "n/a");
	const ms = (n: number) => (Number.isFinite(n) ? `${n.toFixed(n < 10 ? 1 : 0)} ms` : "n/a");
	const pct = (n: number) => `${Math.round(n * 100)}%`;
	const summary = (name: string) => {
		const runs = results[name] ?? [];
		return {
			spansPerSecond: median(runs.map((r) => r.spansPerSecond)),
			p50: median(runs.flatMap((r) => r.latencies)),
			p99: quantile(runs.flatMap((r) => r.latencies), 0.99),
			failed: runs.reduce((n, r) => n + r.failed, 0),
		};
	};
	const rows: string[] = [lifecycleTable(lifecycleRatios, results, lifecycleIndexed), ""];
	const table: Record<string, unknown> = {};
	rows.push("| load (median of rounds) | spans/s | latency p50 | latency p99 | failed | vs transport floor | vs design floor |", "|---|---|---|---|---|---|---|");
	for (const encoding of ["protobuf", "json"] as const) {
		const floorRun = summary(`${encoding} floor`);
		const designRun = summary(`${encoding} design floor`);
		for (const name of [`${encoding} assembler`, `${encoding} assembler, stitching + live`, `${encoding} design floor`, `${encoding} floor`]) {
			const s = summary(name);
			table[name] = s;
			const vsTransport = name.endsWith(" floor") && !name.endsWith("design floor") ? "—" : pct(s.spansPerSecond / floorRun.spansPerSecond);
			// Plain ingest: the median of the per-round ratios, each from two runs made back to back.
			const vsDesign = name.endsWith(" floor") ? "—" : name === `${encoding} assembler` ? pct(median(designRatios[encoding] ?? [])) : pct(s.spansPerSecond / designRun.spansPerSecond);
			rows.push(`| ${name} | ${fmt(s.spansPerSecond)} | ${ms(s.p50)} | ${ms(s.p99)} | ${s.failed} | ${vsTransport} | ${vsDesign} |`);
		}
	}
	rows.push("", "| parsing floor, this process, one core | spans/s | assembler ingest ÷ it |", "|---|---|---|");
	for (const encoding of ["protobuf", "json"] as const) {
		const ingest = summary(`${encoding} assembler`).spansPerSecond;
		const full = encoding === "protobuf" ? "fromBinary" : "JSON.parse + fromJson";
		rows.push(`| ${encoding}: ${full} (full decode) | ${fmt(parsing[encoding].full)} | ${pct(ingest / parsing[encoding].full)} |`);
		rows.push(`| ${encoding}: the router's split (src/ingest/split.ts) | ${fmt(parsing[encoding].split)} | ${pct(ingest / parsing[encoding].split)} |`);
	}
	const rssPerSpan = (rssAfter - rssBefore) / MEMORY_SPANS;
	const memoryLoad = buildLoad({ requests: MEMORY_SPANS / 500, spansPerRequest: 500, tracesPerRequest: 1, requestsPerTrace: MEMORY_SPANS / 500 });
	const memoryPerSpan = objectMemoryPerSpan(memoryLoad.protobuf, MEMORY_SPANS);
	const protoPerSpan = memoryLoad.protobuf.reduce((n, b) => n + b.length, 0) / MEMORY_SPANS;
	rows.push("", "| other figures | value |", "|---|---|");
	rows.push(`| finalization delay beyond the ${QUIET_MS} ms quiet period, under load (${finalizeDelays.length} traces) | p50 ${ms(median(finalizeDelays))}, p99 ${ms(quantile(finalizeDelays, 0.99))} |`);
	rows.push(`| read a 10,000-span trace while open (JSON) | ${ms(openRead)} (after 10k open traces: ${ms(heldOpenRead)}) |`);
	rows.push(`| read a finalized 10,000-span trace from R2 | JSON ${ms(finalJson)}, protobuf ${ms(finalProtobuf)} |`);
	rows.push(`| memory an object holds per buffered span (its span store, ${fmt(MEMORY_SPANS)} spans, after full GC) | ${fmt(memoryPerSpan)} B = ${(memoryPerSpan / protoPerSpan).toFixed(2)}× the span's protobuf size (${fmt(protoPerSpan)} B) |`);
	rows.push(`| workerd resident memory growth per span over one ${fmt(MEMORY_SPANS)}-span open trace (no GC; includes SQLite's cache and garbage) | ${fmt(rssPerSpan)} B |`);
	rows.push(`| traces open at once | ${fmt(manyLoad.traceIds.length)} accepted (${many.failed} failed requests), ${readable}/${sample.length} sampled read back open |`);
	await held.stop();
	servers.splice(0);
	const cost = await measureCost();
	rows.push("", cost.table);
	process.stdout.write(`${rows.join("\n")}\n`);
	if (jsonOut) {
		writeFileSync(jsonOut, JSON.stringify({ cost: cost.json, lifecycleRatios, designRatios, table, parsing, finalizeDelays, openRead, heldOpenRead, finalJson, finalProtobuf, memoryPerSpan, rssPerSpan, protoPerSpan, openTraces: manyLoad.traceIds.length, openFailed: many.failed }, null, 2));
	}
} finally {
	await Promise.all(servers.map((s) => s.stop()));
}

// Search: its own servers, after the ones above have stopped.
const { searchBench } = await import("./lib/search-bench.ts");
process.stdout.write(`\n${(await searchBench()).markdown}\n`);
