// Driving the streaming tail consumer by hand, as the runtime would (test/tail.test.ts,
// test/stitch-trust.test.ts): an onset, then events, then waiting for the flushes.
import { expect } from "vitest";
import { env } from "cloudflare:workers";
import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import worker from "../src/index";
import type { Env } from "../src/env";
import { randomHex } from "./helpers";

type AnyEvent = TailStream.EventType;
type Handler = TailStream.TailEventHandler;

/** Opens an invocation on the consumer as the runtime would; `send` streams its events. */
export function open(traceId: string, parentSpanId: string | undefined, onset: Omit<TailStream.Onset, "type">, workerEnv: Env = env) {
	const ctx = createExecutionContext();
	const invocationId = randomHex(16);
	let sequence = 0;
	let clock = Date.now();
	const tail = <E extends AnyEvent>(spanId: string | undefined, event: E): TailStream.TailEvent<E> => ({
		invocationId,
		spanContext: { traceId, ...(spanId ? { spanId } : {}) },
		timestamp: new Date((clock += 3)),
		sequence: sequence++,
		event,
	});
	const handler = worker.tailStream!(tail(parentSpanId, { type: "onset", ...onset } as TailStream.Onset), workerEnv, ctx);
	expect(typeof handler).toBe("function");
	return {
		ctx,
		send: async (events: [spanId: string, event: AnyEvent][]) => {
			for (const [spanId, event] of events) await (handler as Handler)(tail(spanId, event));
		},
	};
}

/** One whole invocation, then waits for its flushes. */
export async function invoke(traceId: string, parentSpanId: string | undefined, onset: Omit<TailStream.Onset, "type">, events: [spanId: string, event: AnyEvent][], workerEnv: Env = env): Promise<void> {
	const invocation = open(traceId, parentSpanId, onset, workerEnv);
	await invocation.send(events);
	await waitOnExecutionContext(invocation.ctx);
}

