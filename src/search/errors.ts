// The index's own errors. Unavailable: a partition or the tenant's directory could not be reached
// (overloaded, restarting, failing). Searches never answer from part of the index (results must be
// exact), so the HTTP edge answers 503 with Retry-After and the client asks again — also when the
// object was overloaded: Grafana and scripts retry a 503, and the index's load is not the caller's.
import { AssemblerError } from "../errors";

export class IndexUnavailableError extends AssemblerError {
	override name = "IndexUnavailableError";
	constructor(message: string, retryAfterSeconds = 1, options?: { cause?: unknown }) {
		super("unavailable", message, retryAfterSeconds);
		if (options?.cause !== undefined) this.cause = options.cause;
	}
}

/** A request whose range covers more partitions than one invocation may call (the edge answers 400). */
export class IndexRangeTooWideError extends AssemblerError {
	override name = "IndexRangeTooWideError";
	constructor(message: string) {
		super("invalid", message);
	}
}

/** Runs one index call, turning whatever it throws into IndexUnavailableError (logged once here). */
export async function indexCall<T>(what: string, call: () => Promise<T>): Promise<T> {
	try {
		return await call();
	} catch (e) {
		if (e instanceof IndexUnavailableError) throw e;
		console.error(`search index: ${what} failed:`, e);
		const overloaded = (e as { overloaded?: boolean })?.overloaded === true;
		throw new IndexUnavailableError(`the search index is unavailable (${what}${overloaded ? ": overloaded" : ""}); retry the request`, overloaded ? 5 : 1, { cause: e });
	}
}
