// POST /v1/traces: OTLP/HTTP export. Splits the request by trace id and answers 200 only when
// every trace's part is durably stored by its object.
import { authenticate } from "../auth";
import { configFor } from "../config";
import type { Env } from "../env";
import { readBody, requestEncoding } from "../ingest/body";
import { splitRequest } from "../ingest/split";
import { exportResponse, type Encoding } from "../otlp/responses";
import { storePart } from "../ingest/store-part";
import { HttpError } from "./errors";
import { runLimited } from "./pool";
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
		let limited = 0;
		const limitReasons: string[] = [];
		const failures = await runLimited(split.parts, config.ingestConcurrency, async ([traceId, part]) => {
			const result = await storePart(env, { tenant, traceId }, part.finish());
			if (result.rejected > 0) {
				limited += result.rejected;
				if (limitReasons.length < 3 && result.rejectReason) limitReasons.push(result.rejectReason);
			}
		});
		if (failures.length > 0) {
			// The exporter retries the whole request; objects that did store their part ignore the repeat.
			const failure = objectFailure(failures[0], `${failures.length} of ${split.parts.size} traces could not be stored`);
			throw failure;
		}
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
