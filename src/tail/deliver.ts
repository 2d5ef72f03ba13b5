// Calls from the tail consumer to the per-trace objects, the same calls OTLP ingest makes
// (src/ingest/store-part.ts). Retried a few times, because an object may be restarting or briefly
// overloaded, and never thrown: a tail consumer has no one to report an error to but its log.
import type { Env } from "../env";
import type { StitchCandidate } from "../stitch/detect";
import { partCost, storePart } from "../ingest/store-part";
import type { SubrequestBudget } from "../ingest/subrequests";
import { objectName, type TraceAddress } from "../trace-address";
import { encodeSpans } from "./encode";
import type { Invocation, TailSpan } from "./invocation";

const ATTEMPTS = 3;
/**
 * Calls a tail invocation keeps back, out of MAX_SUBREQUESTS, for its last flush and its caller
 * join with their retries: flushes of a long-lived invocation stop short of it and let the
 * invocation's end send the rest (src/tail/consumer.ts).
 */
export const TAIL_RESERVED_SUBREQUESTS = ATTEMPTS * 2 + ATTEMPTS;

/** What the consumer could not do, for logs and tests (per isolate). */
export const tailCounters = { invocations: 0, spansSent: 0, conversionErrors: 0, sendFailures: 0, spansLost: 0 };

export async function sendSpans(env: Env, address: TraceAddress, invocation: Invocation, spans: TailSpan[], budget: SubrequestBudget): Promise<void> {
	let batch: Uint8Array;
	try {
		batch = encodeSpans(invocation, spans);
	} catch (e) {
		tailCounters.conversionErrors++;
		tailCounters.spansLost += spans.length;
		console.error(`trace-assembler tail: ${spans.length} spans of ${invocation.script} could not be encoded: ${(e as Error).message}`);
		return;
	}
	const stored = await withRetries(`${spans.length} spans of trace ${address.traceId}`, budget, partCost(address), async (cost) => {
		const result = await storePart(env, address, batch, budget, cost);
		if (result.rejected > 0) console.warn(`trace-assembler tail: trace ${address.traceId} refused ${result.rejected} spans: ${result.rejectReason}`);
		return result;
	});
	if (stored) tailCounters.spansSent += spans.length - stored.rejected;
	else tailCounters.spansLost += spans.length;
}

/** Joins the invocation's trace to its external caller's, as a recorded traceparent would. */
export async function joinCaller(env: Env, address: TraceAddress, candidate: StitchCandidate, budget: SubrequestBudget): Promise<void> {
	await withRetries(`stitching trace ${address.traceId}`, budget, 1, async () => {
		budget.spend();
		const result = await env.TRACE_ASSEMBLER.getByName(objectName(address)).stitch(address, candidate);
		if (result.status === "refused") console.warn(`trace-assembler tail: trace ${address.traceId} not joined to its caller: ${result.reason}`);
		// "pending": the caller's span has not arrived yet (TAIL_STITCH_EXTERNAL=verified); decided at finalization.
	});
}

/** `cost`: the subrequests one attempt may make; no attempt starts that the budget cannot pay for. */
async function withRetries<T>(what: string, budget: SubrequestBudget, cost: 1 | 2, call: (cost: 1 | 2) => Promise<T>): Promise<T | undefined> {
	for (let attempt = 1; ; attempt++) {
		if (budget.left < cost) {
			tailCounters.sendFailures++;
			console.error(`trace-assembler tail: ${what} given up after ${attempt - 1} attempts: the invocation's MAX_SUBREQUESTS (${budget.limit}) is spent`);
			return undefined;
		}
		try {
			return await call(cost);
		} catch (e) {
			if (attempt >= ATTEMPTS) {
				tailCounters.sendFailures++;
				console.error(`trace-assembler tail: ${what} failed after ${attempt} attempts: ${(e as Error).message}`);
				return undefined;
			}
			await scheduler.wait(200 * 4 ** (attempt - 1));
		}
	}
}
