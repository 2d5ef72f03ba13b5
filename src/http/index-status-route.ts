// GET /api/status/index?start=<unix s>&end=<unix s> (read scope): the caller's tenant's index
// windows in the range, newest first — each window's start (unix ms), shard count, entries and
// bytes stored over its shards — and how many traces were given up as unindexed in the range
// (their index writes failed for INDEX_RETRY_MS; readable by id), with the newest 100 of their ids.
import { authenticate } from "../auth";
import { configFor } from "../config";
import type { Env } from "../env";
import { indexStatus } from "../search/search";
import { timeRange } from "../tempo/search-route";
import { errorResponse } from "./respond";

/** Without start and end, the status covers the last day. */
const DEFAULT_STATUS_RANGE_MS = 86_400_000;

export async function handleIndexStatus(request: Request, env: Env): Promise<Response> {
	try {
		const { tenant } = await authenticate(request, configFor(env), "read");
		const { startMs, endMs } = timeRange(new URL(request.url).searchParams, DEFAULT_STATUS_RANGE_MS, Number.POSITIVE_INFINITY);
		const status = await indexStatus(env, tenant, startMs, endMs);
		return Response.json(status);
	} catch (e) {
		return errorResponse(e);
	}
}
