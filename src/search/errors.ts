// The index's own error: a partition or the tenant's directory could not be reached (overloaded,
// restarting, failing). Searches never answer from part of the index (results must be exact), so
// the HTTP edge answers 503 with Retry-After and the client asks again (http/respond.ts).
export class IndexUnavailableError extends Error {
	override name = "IndexUnavailableError";
	constructor(
		message: string,
		/** How long a client should wait before asking again. */
		readonly retryAfterSeconds = 1,
		options?: { cause?: unknown },
	) {
		super(message, options);
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
