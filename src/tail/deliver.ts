// Calls from the tail consumer to the per-trace objects, the same calls OTLP ingest makes
// (src/ingest/store-part.ts). Retried a few times, because an object may be restarting or briefly
// overloaded, and never thrown: a tail consumer has no one to report an error to but its log.
import type { Env } from "../env";
import type { StitchCandidate } from "../stitch/detect";
import { storePart } from "../ingest/store-part";
import { objectName, type TraceAddress } from "../trace-address";
import { encodeSpans } from "./encode";
import type { Invocation, TailSpan } from "./invocation";

const ATTEMPTS = 3;

/** What the consumer could not do, for logs and tests (per isolate). */
export const tailCounters = { invocations: 0, spansSent: 0, conversionErrors: 0, sendFailures: 0, spansLost: 0 };

export async function sendSpans(env: Env, address: TraceAddress, invocation: Invocation, spans: TailSpan[]): Promise<void> {
	let batch: Uint8Array;
	try {
		batch = encodeSpans(invocation, spans);
	} catch (e) {
		tailCounters.conversionErrors++;
		tailCounters.spansLost += spans.length;
		console.error(`trace-assembler tail: ${spans.length} spans of ${invocation.script} could not be encoded: ${(e as Error).message}`);
		return;
	}
	const stored = await withRetries(`${spans.length} spans of trace ${address.traceId}`, async () => {
		const result = await storePart(env, address, batch);
		if (result.rejected > 0) console.warn(`trace-assembler tail: trace ${address.traceId} refused ${result.rejected} spans: ${result.rejectReason}`);
		return result;
	});
	if (stored) tailCounters.spansSent += spans.length - stored.rejected;
	else tailCounters.spansLost += spans.length;
}

/** Joins the invocation's trace to its external caller's, as a recorded traceparent would. */
export async function joinCaller(env: Env, address: TraceAddress, candidate: StitchCandidate): Promise<void> {
	await withRetries(`stitching trace ${address.traceId}`, async () => {
		const result = await env.TRACE_ASSEMBLER.getByName(objectName(address)).stitch(address, candidate);
		if (result.status === "refused") console.warn(`trace-assembler tail: trace ${address.traceId} not joined to its caller: ${result.reason}`);
		// "pending": the caller's span has not arrived yet (TAIL_STITCH_EXTERNAL=verified); decided at finalization.
	});
}

async function withRetries<T>(what: string, call: () => Promise<T>): Promise<T | undefined> {
	for (let attempt = 1; ; attempt++) {
		try {
			return await call();
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
