// The streaming tail consumer: Workers that list this one in `streaming_tail_consumers` stream
// each invocation's events here as they happen. Spans go to the same per-trace objects as OTLP
// ingest (same de-duplication, stitching, finalization, R2 output, read API and live WebSocket).
// An invocation costs one object call when it ends, plus one per flush while a long-lived
// invocation (a WebSocket, a streamed response) keeps producing spans.
//
// A tail handler must never throw into the runtime or hold events up: the handler only updates
// memory; every failure is caught, logged and counted; object calls run in waitUntil.
import { loadConfig } from "../config";
import type { Env } from "../env";
import type { TraceAddress } from "../trace-address";
import { SubrequestBudget } from "../ingest/subrequests";
import { joinCaller, sendSpans, TAIL_RESERVED_SUBREQUESTS, tailCounters } from "./deliver";
import { Invocation } from "./invocation";
import { FLUSH_BYTES, FLUSH_SPANS } from "./limits";

export { tailCounters };

export function tailStream(onset: TailStream.TailEvent<TailStream.Onset>, env: Env, ctx: ExecutionContext): TailStream.TailEventHandlerType | undefined {
	let invocation: Invocation;
	let address: TraceAddress;
	let flushIntervalMs: number;
	let budget: SubrequestBudget;
	let verifyCaller: boolean;
	try {
		const config = loadConfig(env);
		invocation = new Invocation(onset, { stitchExternal: config.tailStitchExternal, redactQuery: config.tailRedactQuery });
		verifyCaller = config.tailStitchExternal === "verified";
		address = { tenant: config.tailTenant, traceId: invocation.traceId };
		flushIntervalMs = config.tailFlushIntervalMs;
		budget = new SubrequestBudget(config.maxSubrequests);
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
		ctx.waitUntil(
			joinCaller(env, address, {
				parentTraceId: caller.traceId,
				parentSpanId: caller.spanId,
				rule: "traceparent",
				claimedBy: invocation.root.spanId,
				...(verifyCaller ? { verify: true } : {}),
			}, budget),
		);
	}

	let timer: Timer | undefined;
	const flush = () => {
		timer?.cancel();
		timer = undefined;
		const spans = invocation.takeClosed();
		if (spans.length > 0) ctx.waitUntil(sendSpans(env, address, invocation, spans, budget));
	};
	return (event) => {
		try {
			invocation.apply(event);
		} catch (e) {
			tailCounters.conversionErrors++;
			console.error(`trace-assembler tail: ${event?.event?.type} event of ${invocation.script} ignored: ${(e as Error).message}`);
		}
		try {
			// Flushes before the end stop short of the calls kept back for the last one (MAX_SUBREQUESTS).
			const mayFlushEarly = budget.left > TAIL_RESERVED_SUBREQUESTS + 2;
			if (invocation.finished || (mayFlushEarly && (invocation.closedCount >= FLUSH_SPANS || invocation.closedBytes >= FLUSH_BYTES))) flush();
			// A closed span waits at most the flush interval, even when no further event comes (an
			// idle WebSocket): a timer, since the runtime may not call again for hours.
			else if (mayFlushEarly && invocation.closedCount > 0 && !timer) timer = after(ctx, flushIntervalMs, flush);
		} catch (e) {
			console.error(`trace-assembler tail: flushing spans of ${invocation.script} failed: ${(e as Error).message}`);
		}
	};
}

interface Timer {
	cancel(): void;
}

/** Runs `run` after `ms`, keeping the consumer alive until then (or until cancelled). */
function after(ctx: ExecutionContext, ms: number, run: () => void): Timer {
	let settle!: () => void;
	ctx.waitUntil(new Promise<void>((resolve) => (settle = resolve)));
	const handle = setTimeout(() => {
		try {
			run();
		} catch (e) {
			console.error(`trace-assembler tail: timed flush failed: ${(e as Error).message}`);
		} finally {
			settle();
		}
	}, ms);
	return {
		cancel() {
			clearTimeout(handle);
			settle();
		},
	};
}
