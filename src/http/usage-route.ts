// GET /debug/usage: what this isolate's Worker and objects spent, in billed units, since it
// started (src/metering/usage.ts). 404 unless COUNT_USAGE is "true". The totals are the isolate's,
// every tenant's together, so only the operator may read them: a default-tenant token with scope
// all (or anonymous access with ALLOW_ANONYMOUS=true, i.e. local use).
import { authenticate } from "../auth";
import { configFor } from "../config";
import type { Env } from "../env";
import { usageCountingEnabled, usageSnapshot } from "../metering/usage";
import { HttpError } from "./errors";
import { errorResponse } from "./respond";

export async function handleUsage(request: Request, env: Env): Promise<Response> {
	try {
		if (!usageCountingEnabled()) throw new HttpError(404, "usage counting is off (set COUNT_USAGE to \"true\")");
		const principal = await authenticate(request, configFor(env), "read");
		if (principal.tenant !== "" || principal.scope !== "all") {
			throw new HttpError(403, "usage totals cover every tenant: only a default-tenant token with scope all may read them");
		}
		return Response.json(usageSnapshot(), { headers: { "cache-control": "no-store" } });
	} catch (e) {
		return errorResponse(e);
	}
}
