// Which R2 failures can never succeed on retry. The R2 binding throws an Error whose message ends
// with R2's error code, "put: The specified object name is not valid. (10020)" (seen in workerd);
// the codes are listed on R2's error-codes page (/r2/api/error-codes/) with their HTTP statuses.
// Only the 4xx answers that the same request would get again count as permanent; anything else,
// an unknown code or none at all (a network fault, 429 or 5xx), is transient and retried for
// ever, so a span is never given up for a failure that could pass.

/** R2 codes whose request fails the same way every time (HTTP 400/401/403/404 in R2's list). */
const PERMANENT_CODES: ReadonlyMap<number, string> = new Map([
	[10001, "unauthorized"],
	[10003, "access denied"],
	[10006, "no such bucket"],
	[10011, "entity too small"],
	[10012, "metadata too large"],
	[10014, "entity too large"],
	[10020, "invalid object name"],
	[10037, "invalid digest"],
	[10040, "invalid argument"],
]);

/** The R2 error code at the end of an R2 binding error's message, if there is one. */
function r2ErrorCode(error: unknown): number | undefined {
	const message = error instanceof Error ? error.message : typeof error === "string" ? error : "";
	const match = /\((\d{5})\)\s*$/.exec(message);
	return match ? Number(match[1]) : undefined;
}

/** Why the error is permanent ("metadata too large"), or undefined when a retry may succeed. */
export function permanentR2Failure(error: unknown): string | undefined {
	const code = r2ErrorCode(error);
	const name = code === undefined ? undefined : PERMANENT_CODES.get(code);
	return name === undefined ? undefined : `R2 ${code} ${name}`;
}
