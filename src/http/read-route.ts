// GET /v1/traces/{traceId}: an open trace comes from its object, a finalized one from R2.
import { authenticate } from "../auth";
import { configFor } from "../config";
import type { Env } from "../env";
import { tracesDataToJson } from "../otlp/json-out";
import { CONTENT_TYPE, type Encoding } from "../otlp/responses";
import { objectName, parseTraceId, traceKey, type TraceAddress } from "../trace-address";
import { HttpError } from "./errors";
import { errorResponse, objectFailure } from "./respond";

export async function handleRead(request: Request, env: Env, rawTraceId: string): Promise<Response> {
	try {
		const config = configFor(env);
		const { tenant } = await authenticate(request, config, "read");
		const traceId = parseTraceId(rawTraceId);
		if (!traceId) throw new HttpError(400, `invalid trace id ${JSON.stringify(rawTraceId.slice(0, 64))}: expected 32 hex digits, not all zero`);
		const address: TraceAddress = { tenant, traceId };
		let view;
		try {
			view = await env.TRACE_ASSEMBLER.getByName(objectName(address)).view(address);
		} catch (e) {
			throw objectFailure(e, "could not read the trace");
		}
		if (view.state === "partial") return traceResponse(request, view.trace, "partial");
		const object = await env.TRACES.get(traceKey(address));
		if (!object) throw new HttpError(404, `trace ${traceId} not found`);
		return traceResponse(request, new Uint8Array(await object.arrayBuffer()), "complete");
	} catch (e) {
		return errorResponse(e);
	}
}

function traceResponse(request: Request, trace: Uint8Array, status: "partial" | "complete"): Response {
	const encoding: Encoding = /protobuf/i.test(request.headers.get("accept") ?? "") ? "protobuf" : "json";
	const body = encoding === "protobuf" ? trace : JSON.stringify(tracesDataToJson(trace));
	return new Response(body, {
		headers: { "content-type": CONTENT_TYPE[encoding], "x-trace-status": status, vary: "accept" },
	});
}
