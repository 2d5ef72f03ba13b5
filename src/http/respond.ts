// The one place where errors become responses.
import { AssemblerError } from "../errors";
import { statusBody, CONTENT_TYPE, type Encoding } from "../otlp/responses";
import { HttpError, rpcCodeFor, statusFor } from "./errors";

/** A google.rpc.Status response in `encoding` (JSON for everything but protobuf OTLP requests). */
export function errorResponse(error: unknown, encoding: Encoding = "json"): Response {
	const http = asHttpError(error);
	const headers: Record<string, string> = { "content-type": CONTENT_TYPE[encoding] };
	if (http.retryAfterSeconds !== undefined) headers["retry-after"] = String(http.retryAfterSeconds);
	return new Response(statusBody(encoding, rpcCodeFor(http.status), http.message), { status: http.status, headers });
}

function asHttpError(error: unknown): HttpError {
	if (error instanceof HttpError) return error;
	if (error instanceof AssemblerError) {
		const message = error.kind === "misconfigured" ? `server misconfigured: ${error.message}` : error.message;
		return new HttpError(statusFor(error.kind), message, error.retryAfterSeconds);
	}
	console.error("trace-assembler: unexpected error", error);
	return new HttpError(500, "internal error; the server log has the details");
}

/**
 * Classifies a failed Durable Object call (or a delivery whose `overloaded` counts the parts that
 * met an overloaded object): the exporter should retry it, later. 503 + Retry-After either way,
 * which OTLP/HTTP exporters retry with backoff; nothing stored is stored twice on the retry.
 */
export function objectFailure(error: unknown, what: string): HttpError {
	const flags = error as { overloaded?: boolean | number; firstFailure?: string };
	if (flags?.overloaded) return new HttpError(503, `${what}: the trace's object is overloaded; retry later (nothing is stored twice)`, 1);
	console.error(`trace-assembler: ${what}:`, flags?.firstFailure ?? error);
	return new HttpError(503, `${what}: the trace's object is unavailable; retry the request (nothing is stored twice)`, 1);
}
