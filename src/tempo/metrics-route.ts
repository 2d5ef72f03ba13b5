// GET /api/metrics/query_range and /api/metrics/query: TraceQL metrics as Tempo answers them to
// Grafana (its data source and the Traces Drilldown), from the search index: every partition of
// the range evaluates the query over its rows (rollups or entries) and the partial series are
// added up here. Errors are a 400 with a plain-text body, Tempo's way; the over-range message
// keeps Tempo's words so that Grafana shows its own friendly text.
import { authenticate } from "../auth";
import { configFor } from "../config";
import type { Env } from "../env";
import { AssemblerError } from "../errors";
import { HttpError, statusFor } from "../http/errors";
import { ENTRY_MAX_SPANS } from "../search/entry";
import { fanOutAll } from "../search/search";
import { queryErrorFrom, QueryError } from "../traceql/errors";
import { mergePartials, type PartialResult } from "../traceql/metrics/accumulate";
import { finishSeries, instantResponse, rangeResponse, type ResponseStatus } from "../traceql/metrics/finish";
import { MAX_COMPARE_SERIES, MAX_SERIES, seriesCap } from "../traceql/metrics/observe";
import { defaultStepMs, goDuration, instantFrame, parseStep, parseTime, rangeFrame, type TimeFrame } from "../traceql/metrics/plan";
import { parseTraceQL } from "../traceql/parse";

/** Without start, a metrics query covers the hour before end, as Tempo's `since` default. */
const DEFAULT_SINCE_MS = 3_600_000;
/** Tempo's default cap on exemplars per query. */
const MAX_EXEMPLARS = 100;

export async function handleMetrics(request: Request, env: Env, kind: "range" | "instant"): Promise<Response> {
	try {
		const config = configFor(env);
		const { tenant } = await authenticate(request, config, "read");
		const params = new URL(request.url).searchParams;
		const q = params.get("q") ?? params.get("query") ?? "";
		const parsed = parseTraceQL(q);
		if (!parsed.ok) throw new QueryError(`invalid TraceQL query: ${parsed.error.message}`);
		const query = parsed.query;
		if (!query.metrics) throw new QueryError("not a metrics query: end it with a metrics function, like {} | rate()");
		const nowMs = Date.now();
		const endMs = params.get("end") ? parseTime(params.get("end")!, "end") : nowMs;
		const sinceMs = params.get("since") ? parseStep(params.get("since")!) : DEFAULT_SINCE_MS;
		const startMs = params.get("start") ? parseTime(params.get("start")!, "start") : Math.min(endMs, nowMs) - sinceMs;
		if (!(endMs > startMs)) throw new QueryError("end must be greater than start");
		if (endMs - startMs > config.metricsMaxRangeMs) throw new QueryError(`metrics query time range exceeds the maximum allowed duration of ${goDuration(config.metricsMaxRangeMs * 1e6)}`);
		let frame: TimeFrame;
		if (kind === "instant") frame = instantFrame(startMs, endMs);
		else frame = rangeFrame(startMs, endMs, params.get("step") ? parseStep(params.get("step")!) : defaultStepMs(endMs - startMs));
		const exemplarLimit = exemplarsOf(params.get("exemplars"), query.hints.exemplars, kind);
		const frameEndMs = frame.startMs + frame.intervals * frame.stepMs;
		let parts: PartialResult[];
		try {
			parts = await fanOutAll(env, tenant, Math.max(0, frame.startMs), frameEndMs, (stub) => stub.metrics({ query: q, frame }));
		} catch (e) {
			const queryError = queryErrorFrom(e);
			if (queryError) throw queryError;
			// The index's own errors (unavailable: 503 with Retry-After; range too wide: 400) keep their status.
			if (e instanceof AssemblerError || e instanceof HttpError) throw e;
			console.error("metrics: a partition failed", e);
			throw new HttpError(503, "the search index is unavailable for now; retry the query", 5);
		}
		const merged = mergePartials(parts, seriesCap(query.metrics));
		const series = finishSeries(query.metrics, frame, merged);
		const status: ResponseStatus = { inspectedTraces: merged.inspectedTraces, inspectedSpans: merged.inspectedSpans, jobs: parts.length, partialMessage: partialMessage(merged) };
		const body = kind === "instant" ? instantResponse(series, status) : rangeResponse(series, frame, status, exemplarLimit);
		return Response.json(body);
	} catch (e) {
		return plainError(e);
	}
}

/** `exemplars=N` (0 or absent: the maximum), capped; a `with(exemplars=...)` hint wins; none for instant queries. */
function exemplarsOf(param: string | null, hint: string | number | boolean | undefined, kind: "range" | "instant"): number {
	if (kind === "instant" || hint === false) return 0;
	if (typeof hint === "number") return Math.max(0, Math.min(MAX_EXEMPLARS, Math.floor(hint)));
	if (param === null || param === "") return MAX_EXEMPLARS;
	if (!/^\d+$/.test(param)) throw new QueryError("exemplars must be a whole number");
	const n = Number(param);
	return n === 0 ? MAX_EXEMPLARS : Math.min(MAX_EXEMPLARS, n);
}

/** What makes the answer approximate, in Tempo's PARTIAL message. */
function partialMessage(merged: ReturnType<typeof mergePartials>): string | undefined {
	const notes: string[] = [];
	if (merged.openTraces > 0) notes.push(`${merged.openTraces} trace(s) are still open and counted from the spans of their first batch only`);
	if (merged.truncatedTraces > 0) notes.push(`${merged.truncatedTraces} trace(s) have more spans than the index keeps per trace (${ENTRY_MAX_SPANS.toLocaleString("en-US")}); the others are not counted`);
	if (merged.seriesLimited) notes.push(`the answer exceeds the maximum of ${MAX_SERIES.toLocaleString("en-US")} series (compare(): ${MAX_COMPARE_SERIES.toLocaleString("en-US")} values counted); some series are left out`);
	return notes.length > 0 ? `${notes.join("; ")}.` : undefined;
}

/** Tempo answers metrics errors as plain text; Grafana shows the body. */
function plainError(error: unknown): Response {
	let status = 500;
	let message = "internal error; the server log has the details";
	let retryAfter: number | undefined;
	if (error instanceof HttpError) {
		status = error.status;
		message = error.message;
		retryAfter = error.retryAfterSeconds;
	} else if (error instanceof AssemblerError) {
		status = statusFor(error.kind);
		message = error.message;
		retryAfter = error.retryAfterSeconds;
	} else {
		console.error("metrics: unexpected error", error);
	}
	const headers: Record<string, string> = { "content-type": "text/plain; charset=utf-8" };
	if (retryAfter !== undefined) headers["retry-after"] = String(retryAfter);
	return new Response(message, { status, headers });
}
