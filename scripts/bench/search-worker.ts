// The assembler with one bench-only route, for `npm run bench -- --search`: POST /bench/seed builds
// finalized traces in the Worker and writes their search entries straight into the index
// partitions, through the same entry builder, partition choice and partition `put` that a trace's
// object uses after finalization. It skips the trace objects and R2 (100,000 objects would take
// far longer to create locally than the searches take to measure). GET /bench/rows reports the
// index rows written per partition. Never deployed: only scripts/bench/search-wrangler.toml names it.
import { create, toBinary } from "@bufbuild/protobuf";
import worker from "../../src/index";
import type { Env } from "../../src/env";
import { TracesDataSchema } from "../../src/gen/opentelemetry/proto/trace/v1/trace_pb";
import { buildEntry } from "../../src/search/entry";
import { hex, mix, range, seedIndex } from "./seed-index";
import { partitionName, shardsOf } from "../../src/search/partitions";
import { windowsForRead } from "../../src/search/shard-cache";
import { EntryState, rowOf, sortKeyOf } from "../../src/search/row";

export { TraceAssembler, SearchPartition, IndexDirectory } from "../../src/index";


type Attribute = { key: string; value: { value: { case: "stringValue"; value: string } | { case: "intValue"; value: bigint } } };
const str = (key: string, value: string): Attribute => ({ key, value: { value: { case: "stringValue", value } } });
const int = (key: string, value: number): Attribute => ({ key, value: { value: { case: "intValue", value: BigInt(value) } } });

/**
 * Trace i of `total` spread evenly over the hour before `endMs`: five spans in four services; root
 * service svc-(i mod 10); status 500 on one trace in 1,000; a root that takes 1.5 s and fails on
 * one in 200; a unique user and request id per trace (high-cardinality values).
 */
export function benchTrace(i: number, total: number, endMs: number): { traceId: string; startMs: number; bytes: Uint8Array } {
	const traceId = hex(mix(BigInt(i)), 16) + hex(mix(BigInt(i) + 7919n), 16);
	const startMs = endMs - 3_600_000 + Math.floor((i * 3_600_000) / total);
	const start = BigInt(startMs) * 1_000_000n;
	const spanId = (k: number) => hex(mix(BigInt(i) * 8n + BigInt(k)) | 1n, 16);
	const slowError = i % 200 === 1;
	const rootMs = slowError ? 1_500 : 20 + (i % 580);
	const ms = (n: number) => BigInt(n) * 1_000_000n;
	const bytesOf = (h: string) => Uint8Array.from(h.match(/../g)!, (b) => parseInt(b, 16));
	const span = (k: number, parent: number | undefined, name: string, kind: number, offsetMs: number, durationMs: number, attributes: Attribute[], error = false) => ({
		traceId: bytesOf(traceId),
		spanId: bytesOf(spanId(k)),
		parentSpanId: parent === undefined ? new Uint8Array(0) : bytesOf(spanId(parent)),
		name,
		kind,
		startTimeUnixNano: start + ms(offsetMs),
		endTimeUnixNano: start + ms(offsetMs + durationMs),
		attributes,
		status: { code: error ? 2 : 0 },
	});
	const route = `/api/item/${i % 50}`;
	const data = create(TracesDataSchema, {
		resourceSpans: [
			{
				resource: { attributes: [str("service.name", `svc-${i % 10}`), str("deployment.environment", "bench")] },
				scopeSpans: [
					{
						scope: { name: "bench" },
						spans: [
							span(0, undefined, `GET ${route}`, 2, 0, rootMs, [str("http.request.method", "GET"), str("http.route", route), int("http.response.status_code", i % 1000 === 7 ? 500 : 200), str("user.id", `u-${i}`), str("request.id", hex(mix(BigInt(-i)), 16))], slowError),
							span(1, 0, "render", 1, rootMs - 10, 8, [str("template", `item-${i % 5}`)]),
						],
					},
				],
			},
			{ resource: { attributes: [str("service.name", "svc-db")] }, scopeSpans: [{ scope: { name: "bench" }, spans: [span(2, 0, "SELECT items", 3, 2, 10, [str("db.system", "sqlite"), str("db.statement", "SELECT * FROM items WHERE id = ?")])] }] },
			{ resource: { attributes: [str("service.name", "svc-cache")] }, scopeSpans: [{ scope: { name: "bench" }, spans: [span(3, 0, "cache get", 3, 1, 1, [str("cache.key", `item:${i % 50}`), str("cache.hit", i % 3 === 0 ? "false" : "true")])] }] },
			{ resource: { attributes: [str("service.name", "svc-auth")] }, scopeSpans: [{ scope: { name: "bench" }, spans: [span(4, 0, "verify token", 1, 0, 1, [str("auth.method", "bearer")], i % 50 === 0)] }] },
		],
	});
	return { traceId, startMs, bytes: toBinary(TracesDataSchema, data) };
}

export default {
	async fetch(request: Request, env: Env, ctx: ExecutionContext): Promise<Response> {
		const url = new URL(request.url);
		if (url.pathname === "/bench/seed" && request.method === "POST") {
			const from = Number(url.searchParams.get("from"));
			const count = Number(url.searchParams.get("count"));
			const total = Number(url.searchParams.get("total"));
			const endMs = Number(url.searchParams.get("endMs"));
			const tenant = url.searchParams.get("tenant") ?? "";
			const written = await seedIndex(env, tenant, range(from, count, (i) => benchTrace(i, total, endMs)));
			return Response.json({ written });
		}
		if (url.pathname === "/bench/partition-load" && request.method === "POST") {
			// `--scale`: one partition takes single-entry writes (as trace objects send them) from
			// `concurrency` callers for `seconds`; the entry is the posted trace's, under fresh trace ids.
			const seconds = Number(url.searchParams.get("seconds") ?? "5");
			const concurrency = Number(url.searchParams.get("concurrency") ?? "16");
			const trace = new Uint8Array(await request.arrayBuffer());
			const template = rowOf(buildEntry(hex(mix(1n), 32), trace), EntryState.Final, Date.now(), sortKeyOf(BigInt(Date.now()) * 1_000_000n));
			const now = Date.now();
			const window = { startMs: now - (now % 3_600_000), endMs: now - (now % 3_600_000) + 3_600_000, steps: [{ fromMs: now - (now % 3_600_000), shards: 1 }] };
			const name = `index/scale-bench-${now}/${window.startMs}/0`;
			const stub = env.SEARCH_PARTITION.getByName(name);
			let writes = 0;
			let next = 0;
			const started = Date.now();
			await Promise.all(
				Array.from({ length: concurrency }, async () => {
					while (Date.now() - started < seconds * 1000) {
						const i = next++;
						const row = { ...template, traceId: hex(mix(BigInt(i) + 99n), 16) + hex(mix(BigInt(i)), 16), sortKey: sortKeyOf(BigInt(started) * 1_000_000n + BigInt(i)) };
						await stub.put([row], { tenant: "scale-bench", window, shard: 0 });
						writes++;
					}
				}),
			);
			const elapsed = (Date.now() - started) / 1000;
			const stats = await stub.stats();
			return Response.json({ writes, seconds: elapsed, writesPerSecond: writes / elapsed, rows: stats.rows, bytes: stats.bytes, entryBytes: template.entry.length + template.terms.length });
		}
		if (url.pathname === "/bench/rows") {
			// Rows written by entry writes and rows held, over the partitions of the given windows.
			const tenant = url.searchParams.get("tenant") ?? "";
			const fromMs = Number(url.searchParams.get("fromMs"));
			const toMs = Number(url.searchParams.get("toMs"));
			let rowsWritten = 0;
			let rows = 0;
			for (const window of await windowsForRead(env, tenant, fromMs, toMs)) {
				for (let shard = 0; shard < shardsOf(window); shard++) {
					const stats = await env.SEARCH_PARTITION.getByName(partitionName(tenant, window.startMs, shard)).stats();
					rowsWritten += stats.rowsWritten;
					rows += stats.rows;
				}
			}
			return Response.json({ rowsWritten, rows });
		}
		return worker.fetch(request as Request<unknown, IncomingRequestCfProperties>, env, ctx);
	},
} satisfies ExportedHandler<Env>;
