// The streaming tail consumer: Workers that list this one in `streaming_tail_consumers` stream
// each invocation's events here as they happen. Spans go to the same per-trace objects as OTLP
// ingest (same de-duplication, stitching, finalization, R2 output, read API and live WebSocket).
// An invocation costs one object call when it ends, plus one per flush while a long-lived
// invocation (a WebSocket, a streamed response) keeps producing spans.
//
// A tail handler must never throw into the runtime or hold events up: every failure is caught,
// logged and counted, and object calls run in waitUntil.
import { loadConfig } from "../config";
import type { Env } from "../env";
import { objectName, type TraceAddress } from "../trace-address";
import { encodeSpans } from "./encode";
import { Invocation, type TailSpan } from "./invocation";

/** Closed spans are sent at least this often while an invocation runs on. */
export const FLUSH_INTERVAL_MS = 5_000;
/** ... or as soon as this many have closed. */
export const FLUSH_SPANS = 500;
const SEND_ATTEMPTS = 3;

/** What the consumer could not do, for logs and tests. */
export const tailCounters = { invocations: 0, spansSent: 0, conversionErrors: 0, sendFailures: 0, spansLost: 0 };

export function tailStream(onset: TailStream.TailEvent<TailStream.Onset>, env: Env, ctx: ExecutionContext): TailStream.TailEventHandlerType | undefined {
	let invocation: Invocation;
	let address: TraceAddress;
	try {
		invocation = new Invocation(onset);
		address = { tenant: loadConfig(env).tailTenant, traceId: invocation.traceId };
	} catch (e) {
		tailCounters.conversionErrors++;
		console.error(`trace-assembler tail: invocation ignored: ${(e as Error).message}`);
		return undefined;
	}
	tailCounters.invocations++;
	const caller = invocation.caller;
	if (caller) {
		// Join the caller's trace now rather than when the invocation ends (when the span recording
		// the traceparent is sent): then a live subscriber to the caller's trace sees every span as
		// it closes, even for a request that runs for minutes.
		const candidate = { parentTraceId: caller.traceId, parentSpanId: caller.spanId, rule: "traceparent" as const };
		ctx.waitUntil(
			withRetries(`stitching trace ${address.traceId}`, async () => {
				const result = await env.TRACE_ASSEMBLER.getByName(objectName(address)).stitch(address, candidate);
				if (result.status === "refused") console.warn(`trace-assembler tail: trace ${address.traceId} not joined to its caller: ${result.reason}`);
			}),
		);
	}
	let lastFlush = Date.now();
	const flush = () => {
		lastFlush = Date.now();
		const spans = invocation.takeClosed();
		if (spans.length > 0) ctx.waitUntil(send(env, address, invocation, spans));
	};
	return (event) => {
		try {
			invocation.apply(event);
		} catch (e) {
			tailCounters.conversionErrors++;
			console.error(`trace-assembler tail: ${event.event?.type} event of ${invocation.script} ignored: ${(e as Error).message}`);
		}
		if (invocation.finished || invocation.closedCount >= FLUSH_SPANS || (invocation.closedCount > 0 && Date.now() - lastFlush >= FLUSH_INTERVAL_MS)) flush();
	};
}

async function send(env: Env, address: TraceAddress, invocation: Invocation, spans: TailSpan[]): Promise<void> {
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
		const result = await env.TRACE_ASSEMBLER.getByName(objectName(address)).ingest(address, batch);
		if (result.rejected > 0) console.warn(`trace-assembler tail: trace ${address.traceId} refused ${result.rejected} spans: ${result.rejectReason}`);
		return result;
	});
	if (stored) tailCounters.spansSent += spans.length - stored.rejected;
	else tailCounters.spansLost += spans.length;
}

/** An object call retried a few times: the object may be restarting or briefly overloaded. */
async function withRetries<T>(what: string, call: () => Promise<T>): Promise<T | undefined> {
	for (let attempt = 1; ; attempt++) {
		try {
			return await call();
		} catch (e) {
			if (attempt >= SEND_ATTEMPTS) {
				tailCounters.sendFailures++;
				console.error(`trace-assembler tail: ${what} failed after ${attempt} attempts: ${(e as Error).message}`);
				return undefined;
			}
			await new Promise((resolve) => setTimeout(resolve, 200 * 4 ** (attempt - 1)));
		}
	}
}
