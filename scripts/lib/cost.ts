// The cost measurement of `npm run bench`: a fresh `wrangler dev` with COUNT_USAGE=true takes a
// load, every trace runs its whole life (quiet period, R2 write, retention) on short timers, and
// what the Worker and the objects counted themselves (GET /debug/usage: cursor rowsWritten and
// rowsRead, setAlarm() calls, RPC calls, alarm runs, R2 operations, Worker requests) is priced
// per million spans at the list prices of scripts/lib/prices.ts.
import type { UsageCounts } from "../../src/metering/usage.ts";
import { startDevServer } from "./dev-server.ts";
import { buildLoad } from "./bench-load.ts";
import { FREE_PER_DAY, USD_PER_MILLION } from "./prices.ts";

export interface CostResult {
	shape: string;
	spans: number;
	traces: number;
	requests: number;
	usage: UsageCounts;
	/** Rows written as billed: cursor rowsWritten plus one per setAlarm(). deleteAll() not included. */
	rowsWritten: number;
	doRequests: number;
	/** Per million spans, by line item, in units and in USD. */
	perMillion: Record<LineItem, { units: number; usd: number }>;
	usdPerMillionSpans: number;
	rowsWrittenPerSpan: number;
	rowsReadPerSpan: number;
	doRequestsPerSpan: number;
	r2ClassAPerTrace: number;
	deleteAllsPerTrace: number;
	/** Spans a day before Workers Free's 100,000 rows written run out. */
	freePlanSpansPerDay: number;
}

type LineItem = keyof typeof USD_PER_MILLION;

const CONTENT_TYPE = { protobuf: "application/x-protobuf", json: "application/json" } as const;

async function post(url: string, body: Uint8Array, encoding: "protobuf" | "json"): Promise<void> {
	const response = await fetch(`${url}/v1/traces`, { method: "POST", headers: { "content-type": CONTENT_TYPE[encoding] }, body });
	const text = await response.text();
	if (response.status !== 200 || text.includes("rejected")) throw new Error(`POST answered ${response.status}: ${text}`);
}

async function usage(url: string): Promise<UsageCounts> {
	const response = await fetch(`${url}/debug/usage`);
	if (response.status !== 200) throw new Error(`GET /debug/usage answered ${response.status}: ${await response.text()}`);
	return (await response.json()) as UsageCounts;
}

/** Waits until every trace's object freed its storage (one deleteAll each), or `timeoutMs`. */
async function settled(url: string, traces: number, timeoutMs: number): Promise<UsageCounts> {
	const deadline = Date.now() + timeoutMs;
	for (;;) {
		const counts = await usage(url);
		if (counts.deleteAlls >= traces) {
			// A last look a little later: nothing should move any more.
			await new Promise((r) => setTimeout(r, 500));
			return usage(url);
		}
		if (Date.now() > deadline) throw new Error(`only ${counts.deleteAlls} of ${traces} traces reached retention within ${timeoutMs} ms`);
		await new Promise((r) => setTimeout(r, 250));
	}
}

function price(shape: string, spans: number, traces: number, requests: number, counts: UsageCounts): CostResult {
	const rowsWritten = counts.rowsWritten + counts.alarmsSet;
	const doRequests = counts.objectCalls + counts.alarmsRun;
	const units: Record<LineItem, number> = {
		rowsWritten,
		rowsRead: counts.rowsRead,
		doRequests,
		r2ClassA: counts.r2ClassA,
		r2ClassB: counts.r2ClassB,
		workerRequests: counts.workerRequests,
	};
	const perMillion = {} as CostResult["perMillion"];
	let usd = 0;
	for (const item of Object.keys(USD_PER_MILLION) as LineItem[]) {
		const perM = (units[item] / spans) * 1e6;
		perMillion[item] = { units: perM, usd: (perM / 1e6) * USD_PER_MILLION[item] };
		usd += perMillion[item].usd;
	}
	return {
		shape,
		spans,
		traces,
		requests,
		usage: counts,
		rowsWritten,
		doRequests,
		perMillion,
		usdPerMillionSpans: usd,
		rowsWrittenPerSpan: rowsWritten / spans,
		rowsReadPerSpan: counts.rowsRead / spans,
		doRequestsPerSpan: doRequests / spans,
		r2ClassAPerTrace: counts.r2ClassA / traces,
		deleteAllsPerTrace: counts.deleteAlls / traces,
		freePlanSpansPerDay: Math.floor(FREE_PER_DAY.rowsWritten / (rowsWritten / spans)),
	};
}

/** Waits until the objects made `puts` R2 PUTs in all, or `timeoutMs`. */
async function finalized(url: string, puts: number, timeoutMs: number): Promise<void> {
	const deadline = Date.now() + timeoutMs;
	while ((await usage(url)).r2ClassA < puts) {
		if (Date.now() > deadline) throw new Error(`fewer than ${puts} R2 writes within ${timeoutMs} ms`);
		await new Promise((r) => setTimeout(r, 200));
	}
}

/**
 * The benchmark's standard shape: OTLP/protobuf requests of 512 spans over 64 traces, each trace
 * 64 spans in 8 consecutive requests, 4 clients, the default 10 s quiet period (so a trace's parts
 * arrive within it even on a slow machine), retention after 3 s.
 */
export async function standardCost(groups = 8): Promise<CostResult> {
	const server = await startDevServer({ vars: { ALLOW_ANONYMOUS: "true", COUNT_USAGE: "true", QUIET_PERIOD_MS: "10000", RETENTION_MS: "3000" } });
	try {
		const load = buildLoad({ requests: groups * 8, tracesPerRequest: 64 });
		let next = 0;
		await Promise.all(
			Array.from({ length: 4 }, async () => {
				for (let i = next++; i < load.protobuf.length; i = next++) await post(server.url, load.protobuf[i]!, "protobuf");
			}),
		);
		const counts = await settled(server.url, load.traceIds.length, 60_000);
		return price("standard", load.protobuf.length * load.spansPerRequest, load.traceIds.length, load.protobuf.length, counts);
	} finally {
		await server.stop();
	}
}

/**
 * Cloudflare's export: OTLP/JSON, and the spans of a trace come in several export requests far
 * apart, each after the trace was finalized, so each reopens it. "Minutes apart" is compressed by
 * short timers: 4 parts of 16 spans per 64-span trace, 64 traces per request; the next part is sent
 * once every trace's R2 object is written and R2's one-write-a-second spacing has passed, with a
 * 500 ms quiet period; retention 20 s after the last write (it outlasts the gaps between parts, as
 * the default 24 h outlasts Cloudflare's minutes).
 */
export async function cloudflareExportCost(groups = 4, parts = 4): Promise<CostResult> {
	const server = await startDevServer({ vars: { ALLOW_ANONYMOUS: "true", COUNT_USAGE: "true", QUIET_PERIOD_MS: "500", RETENTION_MS: "20000" } });
	try {
		const load = buildLoad({ requests: groups * parts, spansPerRequest: 64 * (64 / parts), tracesPerRequest: 64, requestsPerTrace: parts });
		for (let part = 0; part < parts; part++) {
			await Promise.all(Array.from({ length: groups }, (_, group) => post(server.url, load.json[group * parts + part]!, "json")));
			await finalized(server.url, load.traceIds.length * (part + 1), 60_000);
			await new Promise((r) => setTimeout(r, 1_100));
		}
		const counts = await settled(server.url, load.traceIds.length, 90_000);
		return price("cloudflareExport", load.json.length * load.spansPerRequest, load.traceIds.length, load.json.length, counts);
	} finally {
		await server.stop();
	}
}

const fmt = (n: number, digits = 0) => n.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits });

/** The cost table, per million spans, both shapes side by side. */
export function costTable(standard: CostResult, cloudflare: CostResult): string {
	const label: Record<LineItem, string> = {
		rowsWritten: "SQLite rows written (cursor rowsWritten + setAlarm() calls)",
		rowsRead: "SQLite rows read (cursor rowsRead)",
		doRequests: "Durable Object requests (RPC calls + alarm runs)",
		r2ClassA: "R2 Class A (PUT)",
		r2ClassB: "R2 Class B (GET, HEAD)",
		workerRequests: "Worker requests",
	};
	const rows = [
		"| per million spans | unit price | standard: units | standard: USD | Cloudflare export: units | Cloudflare export: USD |",
		"|---|---|---|---|---|---|",
	];
	for (const item of Object.keys(USD_PER_MILLION) as LineItem[]) {
		const s = standard.perMillion[item];
		const c = cloudflare.perMillion[item];
		rows.push(`| ${label[item]} | $${USD_PER_MILLION[item]}/M | ${fmt(s.units)} | $${fmt(s.usd, 4)} | ${fmt(c.units)} | $${fmt(c.usd, 4)} |`);
	}
	rows.push(`| **total** | | | **$${fmt(standard.usdPerMillionSpans, 3)}** | | **$${fmt(cloudflare.usdPerMillionSpans, 3)}** |`);
	rows.push(
		"",
		"| per span / per trace | standard | Cloudflare export |",
		"|---|---|---|",
		`| rows written per span | ${fmt(standard.rowsWrittenPerSpan, 3)} | ${fmt(cloudflare.rowsWrittenPerSpan, 3)} |`,
		`| rows read per span | ${fmt(standard.rowsReadPerSpan, 3)} | ${fmt(cloudflare.rowsReadPerSpan, 3)} |`,
		`| DO requests per span | ${fmt(standard.doRequestsPerSpan, 3)} | ${fmt(cloudflare.doRequestsPerSpan, 3)} |`,
		`| setAlarm() calls per trace | ${fmt(standard.usage.alarmsSet / standard.traces, 2)} | ${fmt(cloudflare.usage.alarmsSet / cloudflare.traces, 2)} |`,
		`| R2 PUTs per trace | ${fmt(standard.r2ClassAPerTrace, 2)} | ${fmt(cloudflare.r2ClassAPerTrace, 2)} |`,
		`| deleteAll() per trace (not in rows: no cursor counts it) | ${fmt(standard.deleteAllsPerTrace, 2)} | ${fmt(cloudflare.deleteAllsPerTrace, 2)} |`,
		`| spans/day within Workers Free's 100,000 rows written | ${fmt(standard.freePlanSpansPerDay)} | ${fmt(cloudflare.freePlanSpansPerDay)} |`,
		`| measured over | ${fmt(standard.spans)} spans, ${fmt(standard.traces)} traces, ${standard.requests} requests | ${fmt(cloudflare.spans)} spans, ${fmt(cloudflare.traces)} traces, ${cloudflare.requests} requests |`,
	);
	return rows.join("\n");
}

/** The fields `npm run bench -- --cost --json <file>` promises, plus the line items. */
export function costJson(result: CostResult): Record<string, unknown> {
	return {
		usdPerMillionSpans: result.usdPerMillionSpans,
		rowsWrittenPerSpan: result.rowsWrittenPerSpan,
		rowsReadPerSpan: result.rowsReadPerSpan,
		doRequestsPerSpan: result.doRequestsPerSpan,
		r2ClassAPerTrace: result.r2ClassAPerTrace,
		deleteAllsPerTrace: result.deleteAllsPerTrace,
		freePlanSpansPerDay: result.freePlanSpansPerDay,
		spans: result.spans,
		traces: result.traces,
		requests: result.requests,
		perMillionSpans: result.perMillion,
		counted: result.usage,
	};
}
