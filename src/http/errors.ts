// The HTTP edge's error: a status code and a message. Routes raise it directly; lower layers raise
// an AssemblerError (src/errors.ts) whose kind `statusFor` maps here, in one place.
import type { FailureKind } from "../errors";

export class HttpError extends Error {
	override name = "HttpError";
	constructor(
		readonly status: number,
		message: string,
		/** Sent as `Retry-After` (seconds) on 429 and 503, as OTLP/HTTP's throttling rules expect. */
		readonly retryAfterSeconds?: number,
	) {
		super(message);
	}
}

/** The google.rpc.Code for an HTTP status, as gRPC's HTTP mapping pairs them. */
export function rpcCodeFor(status: number): number {
	switch (status) {
		case 400:
		case 413:
		case 415:
			return 3; // INVALID_ARGUMENT
		case 401:
			return 16; // UNAUTHENTICATED
		case 403:
			return 7; // PERMISSION_DENIED
		case 404:
			return 5; // NOT_FOUND
		case 405:
			return 12; // UNIMPLEMENTED
		case 409:
			return 10; // ABORTED
		case 426:
			return 9; // FAILED_PRECONDITION
		case 429:
			return 8; // RESOURCE_EXHAUSTED
		case 503:
			return 14; // UNAVAILABLE
		default:
			return 13; // INTERNAL
	}
}

const STATUS_FOR: Record<FailureKind, number> = {
	invalid: 400,
	"too-large": 413,
	"unsupported-media": 415,
	unauthenticated: 401,
	forbidden: 403,
	"not-found": 404,
	conflict: 409,
	overloaded: 429,
	unavailable: 503,
	misconfigured: 500,
};

/** The HTTP status for a lower layer's failure kind. */
export function statusFor(kind: FailureKind): number {
	return STATUS_FOR[kind];
}
