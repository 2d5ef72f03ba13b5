// GET /v1/traces/{traceId}/live: the WebSocket upgrade goes to the trace's object, which accepts it
// with the Hibernation API. The router authenticates and names the trace; the object is not public.
import { LIVE_TENANT_HEADER, LIVE_TRACE_HEADER } from "../assembler/trace-object";
import { authenticate } from "../auth";
import { configFor } from "../config";
import type { Env } from "../env";
import { objectName } from "../trace-address";
import { HttpError } from "./errors";
import { requireTraceId } from "./read-route";
import { errorResponse, objectFailure } from "./respond";

export async function handleLive(request: Request, env: Env, rawTraceId: string): Promise<Response> {
	try {
		const config = configFor(env);
		const { tenant } = await authenticate(request, config, "read", { webSocket: true });
		const traceId = requireTraceId(rawTraceId);
		if (request.headers.get("upgrade")?.toLowerCase() !== "websocket") {
			throw new HttpError(426, "this endpoint is a WebSocket: connect with Upgrade: websocket");
		}
		const headers = new Headers(request.headers);
		headers.delete("authorization");
		headers.set(LIVE_TENANT_HEADER, tenant);
		headers.set(LIVE_TRACE_HEADER, traceId);
		try {
			return await env.TRACE_ASSEMBLER.getByName(objectName({ tenant, traceId })).fetch(new Request(request.url, { headers }));
		} catch (e) {
			throw objectFailure(e, "could not subscribe to the trace");
		}
	} catch (e) {
		return errorResponse(e);
	}
}
