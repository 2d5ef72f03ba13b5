// POST /v1/stitch: an explicit hint that a trace belongs under a span of another trace, for
// producers that could not record the propagated context on a span.
import { authenticate } from "../auth";
import { configFor } from "../config";
import type { Env } from "../env";
import { parseTraceparent } from "../stitch/traceparent";
import { objectName, parseTraceId } from "../trace-address";
import { HttpError } from "./errors";
import { errorResponse, objectFailure } from "./respond";

const MAX_HINT_BYTES = 4096;

export async function handleStitch(request: Request, env: Env): Promise<Response> {
	try {
		const config = configFor(env);
		const { tenant } = await authenticate(request, config, "ingest");
		const type = (request.headers.get("content-type") ?? "").split(";")[0]!.trim().toLowerCase();
		if (type !== "application/json") throw new HttpError(415, "send the stitch hint as application/json");
		const text = await request.text();
		if (text.length > MAX_HINT_BYTES) throw new HttpError(413, `a stitch hint is at most ${MAX_HINT_BYTES} bytes`);
		let hint: unknown;
		try {
			hint = JSON.parse(text);
		} catch {
			throw new HttpError(400, 'body is not JSON: expected {"traceId": "<child trace id>", "traceparent": "00-<parent trace id>-<parent span id>-01"}');
		}
		const { traceId: rawChild, traceparent } = (typeof hint === "object" && hint !== null ? hint : {}) as Record<string, unknown>;
		const traceId = typeof rawChild === "string" ? parseTraceId(rawChild) : undefined;
		if (!traceId) throw new HttpError(400, "traceId must be the child trace's id: 32 hex digits, not all zero");
		const parent = typeof traceparent === "string" ? parseTraceparent(traceparent) : undefined;
		if (!parent) throw new HttpError(400, 'traceparent must be a W3C traceparent: "00-<32 hex trace id>-<16 hex span id>-<2 hex flags>"');
		if (parent.traceId === traceId) throw new HttpError(400, "a trace cannot be stitched into itself");
		const address = { tenant, traceId };
		let result;
		try {
			result = await env.TRACE_ASSEMBLER.getByName(objectName(address)).stitch(address, {
				parentTraceId: parent.traceId,
				parentSpanId: parent.spanId,
				rule: "hint",
			});
		} catch (e) {
			throw objectFailure(e, "could not record the stitch");
		}
		// A hint is never held for verification; "pending" is the tail consumer's (TAIL_STITCH_EXTERNAL).
		if (result.status !== "merged") throw new HttpError(409, `stitch refused: ${result.reason}`);
		return Response.json({ traceId, mergedInto: result.into, parentSpanId: parent.spanId }, { status: 202 });
	} catch (e) {
		return errorResponse(e);
	}
}
