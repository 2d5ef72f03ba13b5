// The base error of every layer below the HTTP edge (ingest/, auth.ts, config.ts, ...). It says
// what went wrong in the caller's terms; only the edge (http/respond.ts) turns a kind into a
// status code, so a lower layer never needs to know it is behind HTTP.

export type FailureKind =
	/** The input is malformed or breaks a rule: the caller must change it. */
	| "invalid"
	/** The input is larger than a configured or platform limit. */
	| "too-large"
	/** The input's content type or encoding is not one this endpoint reads. */
	| "unsupported-media"
	/** No credentials, or unknown ones. */
	| "unauthenticated"
	/** Known credentials without the right to do this. */
	| "forbidden"
	| "not-found"
	/** The request conflicts with what is stored (a refused stitch). */
	| "conflict"
	/** Too many requests for one object or tenant; retry later. */
	| "overloaded"
	/** A dependency is down for now; the same request may succeed later. */
	| "unavailable"
	/** The deployment's own configuration is wrong: no request can fix it. */
	| "misconfigured";

export class AssemblerError extends Error {
	override name = "AssemblerError";
	constructor(
		readonly kind: FailureKind,
		message: string,
		/** How long a caller should wait before retrying (overloaded, unavailable). */
		readonly retryAfterSeconds?: number,
	) {
		super(message);
	}
}
