// The assembler with one bench-only route, for the metrics section of `npm run bench -- --search`:
// POST /bench/seed64 builds finalized 64-span traces in the Worker and writes their index entries
// (with their rollups) straight into the partitions, through the same entry builder, partition
// choice and partition `put` a trace's object uses after finalization (no trace objects, no R2:
// 100,000 of them would take far longer to create locally than the queries take to measure).
// Never deployed: only scripts/bench/metrics-wrangler.toml names it.
import { create, toBinary } from "@bufbuild/protobuf";
import worker from "../../src/index";
import type { Env } from "../../src/env";
import { TracesDataSchema } from "../../src/gen/opentelemetry/proto/trace/v1/trace_pb";
import { hex, mix, range, seedIndex } from "./seed-index";

export { TraceAssembler, SearchPartition, IndexDirectory } from "../../src/index";

const SPANS = 64;
const SERVICES = 8;
const bytesOf = (h: string) => Uint8Array.from(h.match(/../g)!, (b) => parseInt(b, 16));
const str = (key: string, value: string) => ({ key, value: { value: { case: "stringValue" as const, value } } });

/**
 * Trace i of `total`, spread evenly over the hour before `endMs`: a server root in svc-(i mod 8)
 * and 63 children over 8 services (a chain of calls, each with a few leaves); 1 root in 50 fails,
 * 1 child in 64 fails; durations from 1 ms to about 2 s.
 */
function trace64(i: number, total: number, endMs: number): { traceId: string; startMs: number; bytes: Uint8Array } {
	const traceId = hex(mix(BigInt(i) + 1_000_003n), 16) + hex(mix(BigInt(i) + 7_919n), 16);
	const startMs = endMs - 3_600_000 + Math.floor((i * 3_600_000) / total);
	const start = BigInt(startMs) * 1_000_000n;
	const spanId = (k: number) => hex(mix(BigInt(i) * 128n + BigInt(k)) | 1n, 16);
	const groups = new Map<number, ReturnType<typeof span>[]>();
	function span(k: number) {
		const parent = k === 0 ? undefined : k < 8 ? k - 1 : (k % 8);
		const offsetMs = k === 0 ? 0 : k * 3;
		const durationMs = k === 0 ? 20 + ((i * 37) % 2000) : 1 + ((i + k) % 40);
		return {
			traceId: bytesOf(traceId),
			spanId: bytesOf(spanId(k)),
			parentSpanId: parent === undefined ? new Uint8Array(0) : bytesOf(spanId(parent)),
			name: k === 0 ? `GET /api/item/${i % 20}` : `op-${k % 16}`,
			kind: k === 0 ? 2 : k < 8 ? 3 : 1,
			startTimeUnixNano: start + BigInt(offsetMs) * 1_000_000n,
			endTimeUnixNano: start + BigInt(offsetMs + durationMs) * 1_000_000n,
			attributes: [str("http.route", `/api/item/${i % 20}`)],
			status: { code: (k === 0 && i % 50 === 0) || (k > 0 && (i + k) % 64 === 0) ? 2 : 0 },
		};
	}
	for (let k = 0; k < SPANS; k++) {
		const service = k === 0 ? i % SERVICES : (i + k) % SERVICES;
		let list = groups.get(service);
		if (!list) groups.set(service, (list = []));
		list.push(span(k));
	}
	const data = create(TracesDataSchema, {
		resourceSpans: [...groups].map(([service, spans]) => ({ resource: { attributes: [str("service.name", `svc-${service}`)] }, scopeSpans: [{ scope: { name: "bench" }, spans }] })),
	});
	return { traceId, startMs, bytes: toBinary(TracesDataSchema, data) };
}

export default {
	async fetch(request: Request, env: Env, ctx: ExecutionContext): Promise<Response> {
		const url = new URL(request.url);
		if (url.pathname === "/bench/seed64" && request.method === "POST") {
			const from = Number(url.searchParams.get("from"));
			const count = Number(url.searchParams.get("count"));
			const total = Number(url.searchParams.get("total"));
			const endMs = Number(url.searchParams.get("endMs"));
			const written = await seedIndex(env, "", range(from, count, (i) => trace64(i, total, endMs)));
			return Response.json({ written });
		}
		return worker.fetch(request as Request<unknown, IncomingRequestCfProperties>, env, ctx);
	},
} satisfies ExportedHandler<Env>;
