// GET /debug/usage: what this isolate's Worker and objects spent, in billed units, since it
// started (src/metering/usage.ts). 404 unless COUNT_USAGE is "true"; needs the read scope.
import { authenticate } from "../auth";
import { configFor } from "../config";
import type { Env } from "../env";
import { usageCountingEnabled, usageSnapshot } from "../metering/usage";
import { HttpError } from "./errors";
import { errorResponse } from "./respond";

export async function handleUsage(request: Request, env: Env): Promise<Response> {
	try {
		if (!usageCountingEnabled()) throw new HttpError(404, "usage counting is off (set COUNT_USAGE to \"true\")");
		await authenticate(request, configFor(env), "read");
		return Response.json(usageSnapshot(), { headers: { "cache-control": "no-store" } });
	} catch (e) {
		return errorResponse(e);
	}
}
