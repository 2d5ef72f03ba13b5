// The router Worker: OTLP/HTTP ingest, the read API, and the streaming tail consumer (the web
// viewer's files are static assets, served before the Worker: wrangler.toml [assets]). Each trace
// id is handled by its own Durable Object (TraceAssembler).
import { Router } from "itty-router";
import type { Env } from "./env";
import { handleExport, methodNotAllowed } from "./http/export-route";
import { handleLive } from "./http/live-route";
import { handleRead } from "./http/read-route";
import { handleStitch } from "./http/stitch-route";
import { handleRoot, viewerWithoutSlash } from "./http/root-route";
import { HttpError } from "./http/errors";
import { errorResponse } from "./http/respond";
import { preflight, withCors } from "./http/cors";
import { loadConfig } from "./config";
import { tailStream } from "./tail/consumer";
import { handleMetrics } from "./tempo/metrics-route";
import { handleSearch } from "./tempo/search-route";
import { handleTagsV1, handleTagsV2, handleTagValues } from "./tempo/tags-route";
import { handleTempoTrace } from "./tempo/trace-by-id";
import { handleEcho, handleBuildInfo } from "./tempo/status-route";
import { handleUsage } from "./http/usage-route";
import { handleIndexStatus } from "./http/index-status-route";
import { countUsage, enableUsageCounting } from "./metering/usage";
import { forwardBatch } from "./forward/consumer";
import type { ForwardMessage } from "./forward/message";
import { handleForwardingStatus } from "./forward/status-route";

export { TraceAssembler } from "./assembler/trace-object";
export { SearchPartition } from "./search/partition";
export { IndexDirectory } from "./search/directory";
export { ForwardStats } from "./forward/stats";
export { IngestRelay } from "./ingest/relay";

const router = Router<Request & { params: Record<string, string> }, [Env, ExecutionContext]>({
	catch: (error: unknown) => errorResponse(error),
});

router
	.post("/v1/traces", (request, env) => handleExport(request, env))
	.all("/v1/traces", () => methodNotAllowed("POST"))
	.post("/v1/stitch", (request, env) => handleStitch(request, env))
	.all("/v1/stitch", () => methodNotAllowed("POST"))
	.get("/v1/traces/:traceId", (request, env) => handleRead(request, env, request.params.traceId!))
	// The same answer without its body: the viewer's status check of a search result or a trace.
	.head("/v1/traces/:traceId", (request, env) => handleRead(request, env, request.params.traceId!))
	.all("/v1/traces/:traceId", () => methodNotAllowed("GET, HEAD"))
	.get("/v1/traces/:traceId/live", (request, env) => handleLive(request, env, request.params.traceId!))
	.all("/v1/traces/:traceId/live", () => methodNotAllowed("GET"))
	// Grafana's Tempo data source (the Tempo HTTP API, read scope).
	.get("/api/echo", (request, env) => handleEcho(request, env))
	.get("/api/status/buildinfo", (request, env) => handleBuildInfo(request, env))
	// The search index's windows, shards and unindexed traces (issue 17): the caller's tenant only.
	.get("/api/status/index", (request, env) => handleIndexStatus(request, env))
	.get("/api/v2/traces/:traceId", (request, env) => handleTempoTrace(request, env, request.params.traceId!, "v2"))
	.get("/api/traces/:traceId", (request, env) => handleTempoTrace(request, env, request.params.traceId!, "v1"))
	.get("/api/status/forwarding", (request, env) => handleForwardingStatus(request, env))
	.get("/api/search", (request, env) => handleSearch(request, env))
	.get("/api/v2/search/tags", (request, env) => handleTagsV2(request, env))
	.get("/api/v2/search/tag/:tag/values", (request, env) => handleTagValues(request, env, request.params.tag!, "v2"))
	.get("/api/search/tags", (request, env) => handleTagsV1(request, env))
	.get("/api/search/tag/:tag/values", (request, env) => handleTagValues(request, env, request.params.tag!, "v1"))
	// TraceQL metrics (`| rate()` ...): Grafana's Traces Drilldown and metrics queries in Explore.
	.get("/api/metrics/query_range", (request, env) => handleMetrics(request, env, "range"))
	.get("/api/metrics/query", (request, env) => handleMetrics(request, env, "instant"))
	.all("/api/*", (request) => (request.method === "GET" ? errorResponse(new HttpError(404, `no route for GET ${new URL(request.url).pathname}`)) : methodNotAllowed("GET")))
	.get("/debug/usage", (request, env) => handleUsage(request, env))
	.get("/", (request) => handleRoot(request))
	// HEAD answers as GET does (uptime checks probe `/` this way); the runtime drops the body.
	.head("/", (request) => handleRoot(request))
	.get("/ui", () => viewerWithoutSlash())
	.head("/ui", () => viewerWithoutSlash())
	.all("*", (request) => errorResponse(new HttpError(404, `no route for ${request.method} ${new URL(request.url).pathname}`)));

export default {
	async fetch(request, env, ctx) {
		enableUsageCounting(env);
		if (!request.url.includes("/debug/usage")) countUsage("workerRequests");
		let origins: string[] = [];
		try {
			origins = loadConfig(env).corsOrigins;
		} catch {
			// A bad configuration is reported by the route's own handler; CORS just stays off.
		}
		return preflight(request, origins) ?? withCors(request, await router.fetch(request, env, ctx), origins);
	},
	// Workers that name this one in `streaming_tail_consumers` stream their invocations here.
	tailStream,
	// The forwarding queue (wrangler.toml [[queues.consumers]]): kept traces to OTLP destinations.
	async queue(batch, env) {
		enableUsageCounting(env);
		await forwardBatch(batch as MessageBatch<ForwardMessage>, env);
	},
} satisfies ExportedHandler<Env>;
