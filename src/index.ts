// The router Worker: OTLP/HTTP ingest, the read API, and the streaming tail consumer. Each trace
// id is handled by its own Durable Object (TraceAssembler).
import { Router } from "itty-router";
import type { Env } from "./env";
import { handleExport, methodNotAllowed } from "./http/export-route";
import { handleLive } from "./http/live-route";
import { handleRead } from "./http/read-route";
import { handleStitch } from "./http/stitch-route";
import { HttpError } from "./http/errors";
import { errorResponse } from "./http/respond";
import { preflight, withCors } from "./http/cors";
import { loadConfig } from "./config";
import { tailStream } from "./tail/consumer";
import { handleUsage } from "./http/usage-route";
import { countUsage, enableUsageCounting } from "./metering/usage";

export { TraceAssembler } from "./assembler/trace-object";

const router = Router<Request & { params: Record<string, string> }, [Env, ExecutionContext]>({
	catch: (error: unknown) => errorResponse(error),
});

router
	.post("/v1/traces", (request, env) => handleExport(request, env))
	.all("/v1/traces", () => methodNotAllowed("POST"))
	.post("/v1/stitch", (request, env) => handleStitch(request, env))
	.all("/v1/stitch", () => methodNotAllowed("POST"))
	.get("/v1/traces/:traceId", (request, env) => handleRead(request, env, request.params.traceId!))
	.all("/v1/traces/:traceId", () => methodNotAllowed("GET"))
	.get("/v1/traces/:traceId/live", (request, env) => handleLive(request, env, request.params.traceId!))
	.all("/v1/traces/:traceId/live", () => methodNotAllowed("GET"))
	.get("/debug/usage", (request, env) => handleUsage(request, env))
	.get("/", () => Response.json({ service: "workers-trace-assembler", ingest: "POST /v1/traces", read: "GET /v1/traces/{traceId}", stitch: "POST /v1/stitch", live: "GET /v1/traces/{traceId}/live (WebSocket)" }))
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
} satisfies ExportedHandler<Env>;
