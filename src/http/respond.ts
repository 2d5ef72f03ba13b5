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

/** Classifies a failed Durable Object call: the exporter should retry it, later. */
export function objectFailure(error: unknown, what: string): HttpError {
	const flags = error as { overloaded?: boolean; retryable?: boolean };
	if (flags?.overloaded) return new HttpError(429, `${what}: the trace's object is overloaded; retry later`, 1);
	console.error(`trace-assembler: ${what}:`, error);
	return new HttpError(503, `${what}: the trace's object is unavailable; retry the request (nothing is stored twice)`, 1);
}
