// Usage: npm run soak -- [--minutes 10] [--clients 4] [--rate 4] [--crash-every 90] [--r2-outage 0.4:0.55]
// Soak under faults: several exporter-like clients send OTLP/JSON (512 spans over 64 traces per
// request, traces continuing across requests) to the assembler under `wrangler dev` for the given
// time, while the whole dev server is killed with SIGKILL and restarted every --crash-every
// seconds (objects lose memory, requests and alarms are cut off mid-way) and R2 fails during the
// --r2-outage window (fractions of the run). Clients retry like OTLP exporters (429/5xx/network
// errors, same body). At the end every trace is read back, and every object's part rows are read
// from the stopped server's state directory: every span that was acknowledged must be read back,
// and stored exactly once (reads and R2 writes de-duplicate again, so duplicates are counted in
// the part rows, where they would be stored); the search index holds an entry per trace and lists
// none twice. Prints a table; exits 1 on any lost or duplicated span or any trace listed twice.
import { option } from "./lib/args.ts";
import { startDevServer, type DevServer } from "./lib/dev-server.ts";
import { readStoredParts } from "./lib/stored-parts.ts";
import { join, resolve } from "node:path";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";

const minutes = Number(option("minutes", "10"));
const clients = Number(option("clients", "4"));
const ratePerClient = Number(option("rate", "4"));
const crashEverySeconds = Number(option("crash-every", "90"));
const [outageFrom, outageTo] = option("r2-outage", "0.4:0.55").split(":").map(Number) as [number, number];
const quietPeriodMs = 2000;

const root = resolve(import.meta.dirname, "..");
const hex = (bytes: number) => Array.from(crypto.getRandomValues(new Uint8Array(bytes)), (b) => b.toString(16).padStart(2, "0")).join("");

const started = Date.now();
const durationMs = minutes * 60_000;
const vars = {
	CHAOS_R2_FAIL_FROM_MS: String(Math.round(started + outageFrom * durationMs)),
	CHAOS_R2_FAIL_UNTIL_MS: String(Math.round(started + outageTo * durationMs)),
	QUIET_PERIOD_MS: String(quietPeriodMs),
};
const persistTo = mkdtempSync(join(tmpdir(), "trace-assembler-soak-"));
let server: DevServer = await startDevServer({ configs: [join(root, "scripts/soak/wrangler.toml")], vars, persistTo });
const port = server.port;
let restarting: Promise<void> | undefined;

const stats = { requests: 0, acknowledged: 0, retries: 0, status: new Map<string, number>(), crashes: 0, gaveUp: 0, rejected: 0 };
/** traceId -> span ids acknowledged with a 200. */
const accepted = new Map<string, Set<string>>();

// Traces live for a while and get spans in several requests, like real traces exported in pieces.
const active: { id: string; root: string; left: number }[] = [];
function pickTraces(count: number) {
	while (active.length < 2000) active.push({ id: hex(16), root: hex(8), left: 2 + Math.floor(Math.random() * 6) });
	const picked = [];
	for (let i = 0; i < count; i++) {
		const index = Math.floor(Math.random() * active.length);
		const trace = active[index]!;
		picked.push(trace);
		if (--trace.left <= 0) active.splice(index, 1);
	}
	return picked;
}

function makeRequest() {
	const traces = pickTraces(64);
	const now = BigInt(Date.now()) * 1_000_000n;
	const spans: { traceId: string; spanId: string }[] = [];
	const byService = new Map<string, unknown[]>();
	for (const trace of traces) {
		for (let i = 0; i < 8; i++) {
			const spanId = i === 0 && !accepted.get(trace.id)?.has(trace.root) ? trace.root : hex(8);
			spans.push({ traceId: trace.id, spanId });
			const service = ["gateway", "auth", "orders"][i % 3]!;
			if (!byService.has(service)) byService.set(service, []);
			byService.get(service)!.push({
				traceId: trace.id,
				spanId,
				...(spanId === trace.root ? {} : { parentSpanId: trace.root }),
				name: ["fetch", "kv_get", "durable_object_subrequest", "d1_query"][i % 4],
				kind: i === 0 ? 2 : 3,
				startTimeUnixNano: String(now + BigInt(i) * 1_000_000n),
				endTimeUnixNano: String(now + BigInt(i + 1) * 1_000_000n),
				attributes: [
					{ key: "cloud.provider", value: { stringValue: "cloudflare" } },
					{ key: "cloudflare.script_name", value: { stringValue: service } },
					{ key: "http.request.method", value: { stringValue: "GET" } },
					{ key: "url.full", value: { stringValue: `https://example.com/${i}` } },
					{ key: "cloudflare.invocation.sequence.number", value: { intValue: String(i) } },
				],
				events: i % 4 === 0 ? [{ timeUnixNano: String(now), name: "log", attributes: [{ key: "message", value: { stringValue: "hello" } }] }] : [],
				status: { code: 0 },
			});
		}
	}
	const body = JSON.stringify({
		resourceSpans: [...byService].map(([service, list]) => ({
			resource: { attributes: [{ key: "service.name", value: { stringValue: service } }] },
			scopeSpans: [{ scope: { name: "soak" }, spans: list }],
		})),
	});
	return { body, spans };
}

/** Sends one request until it is acknowledged, retrying like an OTLP exporter. */
async function send(): Promise<void> {
	const { body, spans } = makeRequest();
	let delay = 250;
	for (let attempt = 0; attempt < 40; attempt++) {
		await restarting;
		stats.requests++;
		let status: string;
		try {
			const res = await fetch(`http://127.0.0.1:${port}/v1/traces`, { method: "POST", headers: { "content-type": "application/json" }, body, signal: AbortSignal.timeout(30_000) });
			status = String(res.status);
			const text = await res.text();
			if (res.status === 200) {
				const partial = (JSON.parse(text) as { partialSuccess?: { rejectedSpans?: string } }).partialSuccess;
				stats.rejected += Number(partial?.rejectedSpans ?? 0);
				for (const { traceId, spanId } of spans) {
					if (!accepted.has(traceId)) accepted.set(traceId, new Set());
					accepted.get(traceId)!.add(spanId);
				}
				stats.acknowledged++;
				stats.status.set(status, (stats.status.get(status) ?? 0) + 1);
				return;
			}
			if (res.status < 500 && res.status !== 429) throw new Error(`non-retryable ${res.status}: ${text}`);
		} catch (e) {
			status = e instanceof Error && e.message.startsWith("non-retryable") ? "fatal" : "network";
			if (status === "fatal") throw e;
		}
		stats.status.set(status, (stats.status.get(status) ?? 0) + 1);
		stats.retries++;
		await new Promise((r) => setTimeout(r, delay));
		delay = Math.min(delay * 2, 5_000);
	}
	stats.gaveUp++;
}

async function client(): Promise<void> {
	const interval = 1000 / ratePerClient;
	while (Date.now() - started < durationMs) {
		const t = Date.now();
		await send();
		await new Promise((r) => setTimeout(r, Math.max(0, interval - (Date.now() - t))));
	}
}

async function chaos(): Promise<void> {
	while (Date.now() - started < durationMs - crashEverySeconds * 500) {
		await new Promise((r) => setTimeout(r, crashEverySeconds * 1000 * (0.5 + Math.random())));
		if (Date.now() - started >= durationMs) break;
		restarting = (async () => {
			await server.crash();
			stats.crashes++;
			server = await startDevServer({ configs: [join(root, "scripts/soak/wrangler.toml")], vars, persistTo, port });
		})();
		await restarting;
		restarting = undefined;
		console.log(`[${((Date.now() - started) / 1000).toFixed(0)} s] crashed and restarted wrangler dev (${stats.crashes}); acknowledged ${stats.acknowledged} requests`);
	}
}

console.log(`soak: ${minutes} min, ${clients} clients x ${ratePerClient} req/s, crash every ~${crashEverySeconds} s, R2 outage ${Math.round(outageFrom * 100)}%-${Math.round(outageTo * 100)}% of the run`);
await Promise.all([...Array.from({ length: clients }, client), chaos()]);

// Let every trace finalize, then read each back: exactly the acknowledged spans, each once.
console.log("load done; waiting for finalization and reading every trace back ...");
const verify = { traces: 0, spans: 0, lost: 0, duplicated: 0, unexpected: 0, incomplete: 0 };
const ids = [...accepted.keys()];
const deadline = Date.now() + 5 * 60_000;
await new Promise((r) => setTimeout(r, quietPeriodMs * 3));
async function check(traceId: string): Promise<void> {
	for (;;) {
		const res = await fetch(`http://127.0.0.1:${port}/v1/traces/${traceId}`, { signal: AbortSignal.timeout(30_000) }).catch(() => undefined);
		if (res?.status === 200 && (res.headers.get("x-trace-status") === "complete" || Date.now() > deadline)) {
			if (res.headers.get("x-trace-status") !== "complete") verify.incomplete++;
			const body = (await res.json()) as { resourceSpans: { scopeSpans: { spans: { spanId: string }[] }[] }[] };
			const seen = new Map<string, number>();
			for (const rs of body.resourceSpans) for (const ss of rs.scopeSpans) for (const s of ss.spans) seen.set(s.spanId, (seen.get(s.spanId) ?? 0) + 1);
			const expected = accepted.get(traceId)!;
			verify.traces++;
			verify.spans += expected.size;
			for (const id of expected) if (!seen.has(id)) verify.lost++;
			for (const [id, n] of seen) {
				if (n > 1) verify.duplicated += n - 1;
				if (!expected.has(id)) verify.unexpected++;
			}
			return;
		}
		if (Date.now() > deadline && res?.status !== 200) {
			verify.traces++;
			verify.lost += accepted.get(traceId)!.size;
			return;
		}
		await new Promise((r) => setTimeout(r, 500));
	}
}
let next = 0;
await Promise.all(Array.from({ length: 16 }, async () => {
	while (next < ids.length) await check(ids[next++]!);
}));

// The search index after the same faults (issue 17): one entry per trace over the run's windows
// (GET /api/status/index), none given up as unindexed, and `{}` listing no trace twice.
const index = { entries: 0, unindexed: 0, listed: 0, listedTwice: 0, unknown: 0 };
const range = `start=${Math.floor(started / 1000) - 3_600}&end=${Math.ceil(Date.now() / 1000) + 60}`;
const indexDeadline = Date.now() + 60_000;
for (;;) {
	const res = await fetch(`http://127.0.0.1:${port}/api/status/index?${range}`).catch(() => undefined);
	if (res?.status === 200) {
		const status = (await res.json()) as { windows: { entries: number }[]; unindexed: number };
		index.entries = status.windows.reduce((n, w) => n + w.entries, 0);
		index.unindexed = status.unindexed;
		if (index.entries >= ids.length || Date.now() > indexDeadline) break;
	} else if (Date.now() > indexDeadline) break;
	await new Promise((r) => setTimeout(r, 1_000));
}
const listing = await fetch(`http://127.0.0.1:${port}/api/search?q={}&limit=1000&${range}`).then((r) => r.json() as Promise<{ traces: { traceID: string }[] }>).catch(() => ({ traces: [] }));
const listedIds = listing.traces.map((t) => t.traceID);
index.listed = listedIds.length;
index.listedTwice = listedIds.length - new Set(listedIds).size;
index.unknown = listedIds.filter((id) => !accepted.has(id)).length;
await server.stop();
// Where a duplicate would be stored: the objects' part rows (RETENTION_MS keeps them for a day).
const stored = readStoredParts(persistTo);
let storedMissing = 0;
for (const [traceId, spanIds] of accepted) for (const id of spanIds) if (!stored.byTrace.get(traceId)?.has(id)) storedMissing++;

const table = [
	["| what | result |", "|---|---|"],
	[`| run | ${minutes} min, ${clients} clients x ${ratePerClient} req/s, 512 spans/request |`],
	[`| faults | ${stats.crashes} SIGKILL restarts of wrangler dev; R2 failing ${((outageTo - outageFrom) * minutes).toFixed(1)} min |`],
	[`| requests sent (incl. retries) | ${stats.requests} (${stats.retries} retries; ${[...stats.status].map(([s, n]) => `${s}: ${n}`).join(", ")}) |`],
	[`| requests acknowledged / given up | ${stats.acknowledged} / ${stats.gaveUp} |`],
	[`| spans rejected with partial success | ${stats.rejected} |`],
	[`| traces / acknowledged spans read back | ${verify.traces} / ${verify.spans} |`],
	[`| lost / duplicated / unexpected spans (read back) | ${verify.lost} / ${verify.duplicated} / ${verify.unexpected} |`],
	[`| spans in the objects' part rows / stored twice / acknowledged but not stored | ${stored.spans} / ${stored.duplicated} / ${storedMissing} |`],
	[`| traces not complete at the deadline | ${verify.incomplete} |`],
	[`| search index: entries / traces, unindexed | ${index.entries} / ${ids.length}, ${index.unindexed} |`],
	[`| search index: \`{}\` (limit 1000) listed / listed twice / unknown | ${index.listed} / ${index.listedTwice} / ${index.unknown} |`],
].flat();
console.log(table.join("\n"));
process.exit(verify.lost + verify.duplicated + verify.unexpected + stored.duplicated + storedMissing + stats.gaveUp + index.listedTwice + index.unknown > 0 ? 1 : 0);
