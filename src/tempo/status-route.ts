// GET /api/echo (Grafana's "Save & test") and GET /api/status/buildinfo (older Grafana reads
// `version` to pick API features). Both authenticate, so "Save & test" also checks the token.
import { authenticate } from "../auth";
import { configFor } from "../config";
import type { Env } from "../env";
import { errorResponse } from "../http/respond";

/** The Tempo API version whose behaviour this answers like (the v2 trace and tag endpoints). */
export const TEMPO_COMPATIBLE_VERSION = "2.8.0";

export async function handleEcho(request: Request, env: Env): Promise<Response> {
	try {
		await authenticate(request, configFor(env), "read");
		return new Response("echo", { headers: { "content-type": "text/plain; charset=utf-8" } });
	} catch (e) {
		return errorResponse(e);
	}
}

export async function handleBuildInfo(request: Request, env: Env): Promise<Response> {
	try {
		await authenticate(request, configFor(env), "read");
		return Response.json({ version: TEMPO_COMPATIBLE_VERSION, revision: "workers-trace-assembler", branch: "", buildUser: "", buildDate: "", goVersion: "" });
	} catch (e) {
		return errorResponse(e);
	}
}
