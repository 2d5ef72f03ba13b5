// The one error a TraceQL query raises: the user wrote something this implementation refuses (a
// syntax error, a type error, an unsupported feature, a limit). The HTTP edge answers it with 400
// and its message; it is an AssemblerError of kind "invalid" so the shared mapping does that.
import { AssemblerError } from "../errors";

export class QueryError extends AssemblerError {
	override name = "QueryError";
	constructor(message: string) {
		super("invalid", message);
	}
}

/**
 * A query's own failure raised inside a partition reaches the router as a plain Error (classes do
 * not cross a Durable Object RPC): recognise it by its message, so it is still a 400.
 */
export function queryErrorFrom(error: unknown, depth = 0): QueryError | undefined {
	if (error instanceof QueryError) return error;
	if (!(error instanceof Error) || depth > 3) return undefined;
	if (error.message.includes(BUDGET_MESSAGE)) return new QueryError(error.message.slice(error.message.indexOf(BUDGET_MESSAGE)));
	// The index wraps a failed partition call in its own error, with the partition's as the cause.
	return queryErrorFrom(error.cause, depth + 1);
}

/** The start of a RegexBudgetError's message (kept here so the check needs no import of the engine). */
export const BUDGET_MESSAGE = "the query's regular expressions exceeded their matching budget";
