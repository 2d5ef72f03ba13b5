// GET /api/search: Tempo's search, answered as the SearchResponse JSON that Grafana decodes with
// a strict protobuf-JSON decoder. The JSON is written by protobuf-es from proto/tempopb, so only the
// schema's keys (with Tempo's spelling, `traceID`, `spanID`) can appear.
import { create, toJson, type JsonObject } from "@bufbuild/protobuf";
import { authenticate } from "../auth";
import { configFor } from "../config";
import type { Env } from "../env";
import { KeyValueSchema, type KeyValue } from "../gen/opentelemetry/proto/common/v1/common_pb";
import { SearchResponseSchema, type SpanSet } from "../gen/tempopb/tempo_pb";
import { HttpError } from "../http/errors";
import { errorResponse } from "../http/respond";
import { queryErrorFrom } from "../traceql/errors";
import type { Pair } from "../search/entry";
import type { SearchHit } from "../search/partition";
import { MAX_SEARCH_RANGE_MS } from "../search/partitions";
import { searchTraces } from "../search/search";
import { parseTraceQL } from "../traceql/parse";

export const DEFAULT_LIMIT = 20;
export const MAX_LIMIT = 1_000;
export const DEFAULT_SPSS = 3;
export const MAX_SPSS = 100;
/** Without start and end, a search covers the last hour (as a Tempo data source's default range does). */
export const DEFAULT_RANGE_MS = 3_600_000;
/** Tempo's words for a trace whose root span has not arrived. */
export const NO_ROOT = "<root span not yet received>";

export async function handleSearch(request: Request, env: Env): Promise<Response> {
	try {
		const { tenant } = await authenticate(request, configFor(env), "read");
		const params = new URL(request.url).searchParams;
		const q = params.get("q") ?? "{}";
		const parsed = parseTraceQL(q);
		if (!parsed.ok) throw new HttpError(400, `invalid TraceQL query: ${parsed.error.message}`);
		if (parsed.query.metrics) throw new HttpError(400, `invalid TraceQL query: ${parsed.query.metrics.fn}() is a metrics query: ask /api/metrics/query_range or /api/metrics/query`);
		if (params.has("tags") && !params.has("q")) throw new HttpError(400, "the tags= search parameter is not supported: use q= with TraceQL, e.g. q={resource.service.name=\"frontend\"}");
		const { startMs, endMs } = timeRange(params);
		const limit = boundedInteger(params, "limit", DEFAULT_LIMIT, 1, MAX_LIMIT);
		const spss = boundedInteger(params, "spss", DEFAULT_SPSS, 1, MAX_SPSS);
		const outcome = await searchTraces(env, { tenant, query: q, startMs, endMs, limit, spss });
		const response = create(SearchResponseSchema, { traces: outcome.hits.map(traceMetadata) });
		const json = toJson(SearchResponseSchema, response) as JsonObject;
		// Proto3 JSON leaves an empty list out; Tempo writes it, and readers need not special-case it.
		json.traces ??= [];
		return Response.json(json);
	} catch (e) {
		return errorResponse(queryErrorFrom(e) ?? e);
	}
}

function traceMetadata(hit: SearchHit) {
	const spanSet: Omit<SpanSet, "$typeName"> = {
		spans: hit.spans.map((span) => ({
			$typeName: "tempopb.Span" as const,
			spanId: span.spanId,
			name: span.name,
			startTimeUnixNano: BigInt(span.startNs),
			durationNanos: BigInt(Math.max(0, Math.round(span.durationNs))),
			attributes: span.attributes.map(keyValue),
		})),
		matched: hit.matched,
		attributes: [],
	};
	return {
		traceId: hit.traceId,
		rootServiceName: hit.rootServiceName ?? NO_ROOT,
		rootTraceName: hit.rootTraceName ?? "",
		startTimeUnixNano: BigInt(hit.startNs),
		durationMs: Math.min(hit.durationMs, 0xffffffff),
		spanSet,
		spanSets: [spanSet],
		serviceStats: Object.fromEntries(Object.entries(hit.services).map(([service, [spanCount, errorCount]]) => [service, { spanCount, errorCount }])),
	};
}

export function keyValue([key, type, value]: Pair): KeyValue {
	const any =
		type === "s" ? { case: "stringValue" as const, value: value as string }
		: type === "b" ? { case: "boolValue" as const, value: value as boolean }
		: type === "i" ? { case: "intValue" as const, value: BigInt(Math.trunc(value as number)) }
		: { case: "doubleValue" as const, value: value as number };
	return create(KeyValueSchema, { key, value: { value: any } });
}

/** `start` and `end` in unix seconds (Grafana always sends them for search); the last hour without them. */
export function timeRange(params: URLSearchParams, defaultRangeMs = DEFAULT_RANGE_MS, maxRangeMs = MAX_SEARCH_RANGE_MS): { startMs: number; endMs: number } {
	const now = Date.now();
	const end = seconds(params, "end");
	const start = seconds(params, "start");
	const endMs = end ?? now;
	const startMs = start ?? endMs - defaultRangeMs;
	if (startMs > endMs) throw new HttpError(400, `start (${params.get("start")}) is after end (${params.get("end")})`);
	if (endMs - startMs > maxRangeMs) {
		throw new HttpError(400, `the range from start to end is longer than ${maxRangeMs / 3_600_000} hours: search a shorter range`);
	}
	return { startMs, endMs };
}

function seconds(params: URLSearchParams, name: string): number | undefined {
	const raw = params.get(name);
	if (raw === null || raw === "" || raw === "0") return undefined;
	if (!/^\d{1,12}(\.\d+)?$/.test(raw)) throw new HttpError(400, `${name} must be a unix time in seconds (got ${JSON.stringify(raw.slice(0, 40))})`);
	return Math.round(Number(raw) * 1000);
}

export function boundedInteger(params: URLSearchParams, name: string, fallback: number, min: number, max: number): number {
	const raw = params.get(name);
	if (raw === null || raw === "") return fallback;
	if (!/^\d{1,9}$/.test(raw)) throw new HttpError(400, `${name} must be a whole number (got ${JSON.stringify(raw.slice(0, 40))})`);
	const value = Number(raw);
	// Tempo treats 0 as "the default"; above the maximum the maximum applies.
	if (value === 0) return fallback;
	return Math.min(Math.max(value, min), max);
}
