// POST /v1/traces: OTLP/HTTP export. Splits the request by trace id and answers 200 only when
// every trace's part is durably stored by its object (through ingest relays when the request has
// more traces than MAX_SUBREQUESTS: src/ingest/fan-out.ts).
import { authenticate } from "../auth";
import { configFor } from "../config";
import type { Env } from "../env";
import { readBody, requestEncoding } from "../ingest/body";
import { splitRequest } from "../ingest/split";
import { exportResponse, type Encoding } from "../otlp/responses";
import { deliverParts } from "../ingest/fan-out";
import { HttpError } from "./errors";
import { errorResponse, objectFailure } from "./respond";

export async function handleExport(request: Request, env: Env): Promise<Response> {
	// Errors answer in the request's encoding when it is one of ours (OTLP/HTTP, "Failures").
	const contentType = request.headers.get("content-type") ?? "";
	const errorEncoding: Encoding = contentType.includes("protobuf") ? "protobuf" : "json";
	try {
		const config = configFor(env);
		const { tenant } = await authenticate(request, config, "ingest");
		const encoding = requestEncoding(request);
		const body = await readBody(request, config.maxBodyBytes);
		if (body.length === 0) return exportResponse(encoding, 0, "");
		const split = splitRequest(body, encoding);
		const parts = [...split.parts].map(([traceId, part]) => ({ traceId, batch: part.finish() }));
		const outcome = await deliverParts(env, tenant, parts, { maxSubrequests: config.maxSubrequests, concurrency: config.ingestConcurrency });
		if (outcome.failed > 0) {
			// The exporter retries the whole request; objects that did store their part ignore the repeat.
			throw objectFailure(outcome, `${outcome.failed} of ${parts.length} traces could not be stored`);
		}
		const limited = outcome.rejected;
		const limitReasons = outcome.rejectReasons;
		const messages = [];
		if (split.rejected > 0) messages.push(`rejected ${split.rejectMessage}`);
		if (limited > 0) messages.push(`rejected ${limited} spans: ${limitReasons.join("; ")}`);
		return exportResponse(encoding, split.rejected + limited, messages.join("; "));
	} catch (e) {
		return errorResponse(e, errorEncoding);
	}
}

export function methodNotAllowed(allowed: string): Response {
	const response = errorResponse(new HttpError(405, `method not allowed: use ${allowed}`));
	response.headers.set("allow", allowed);
	return response;
}
