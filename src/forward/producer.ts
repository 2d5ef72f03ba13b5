// The trace object's side of forwarding: the kept spans go on the forwarding queue, one message per
// destination and piece. `send` resolving is the queue's promise that the messages are durable
// (Queues, delivery guarantees); until then nothing is recorded as forwarded.
import type { Env } from "../env";
import { countUsage } from "../metering/usage";
import type { TraceAddress } from "../trace-address";
import type { Destination } from "./config";
import { forwardPieceKey, INLINE_MAX_BYTES, type ForwardMessage } from "./message";
import type { Decision } from "./rules";
import { stampedPieces, type HeldSpan } from "./stamp";

/** sendBatch takes at most 100 messages or 256 KB (Queues limits); keep clear of the byte cap. */
const BATCH_MAX_MESSAGES = 100;
const BATCH_MAX_BYTES = 240_000;
/** Queues bills each 64 KB (1 KB = 1000 B) of a message as one operation. */
const OPERATION_BYTES = 64_000;

export class ForwardQueueMissing extends Error {
	override name = "ForwardQueueMissing";
}

/** Hands `spans` to the queue for each destination; throws when the queue refused (the caller retries). */
export async function enqueueSpans(env: Env, address: TraceAddress, destinations: readonly Destination[], decision: Decision, spans: readonly HeldSpan[], upTo: number, maxBytes: number): Promise<number> {
	if (destinations.length === 0 || spans.length === 0) return 0;
	const queue = env.FORWARD_QUEUE;
	if (!queue) throw new ForwardQueueMissing("FORWARD_DESTINATIONS is set but the FORWARD_QUEUE binding is missing (wrangler.toml [[queues.producers]])");
	const pieces = stampedPieces(spans, decision, maxBytes);
	const messages: { body: ForwardMessage; bytes: number }[] = [];
	for (const [piece, { payload, spans: count }] of pieces.entries()) {
		let inline: Uint8Array | undefined = payload;
		let payloadKey: string | undefined;
		if (payload.length > INLINE_MAX_BYTES) {
			// Written once for every destination; R2 lifecycle on `forward/` removes it (README).
			payloadKey = forwardPieceKey(address.tenant, address.traceId, upTo, piece);
			countUsage("r2ClassA");
			await env.TRACES.put(payloadKey, payload, { httpMetadata: { contentType: "application/x-protobuf" } });
			inline = undefined;
		}
		for (const destination of destinations) {
			const body: ForwardMessage = { tenant: address.tenant, traceId: address.traceId, destination: destination.name, decision, upTo, piece, pieces: pieces.length, spans: count };
			if (inline) body.payload = inline;
			else body.payloadKey = payloadKey;
			messages.push({ body, bytes: (inline?.length ?? 0) + 300 });
		}
	}
	let batch: { body: ForwardMessage; bytes: number }[] = [];
	let batchBytes = 0;
	const flush = async () => {
		if (batch.length === 0) return;
		await queue.sendBatch(batch.map((m) => ({ body: m.body, contentType: "v8" as const })));
		for (const m of batch) countUsage("queueOperations", Math.ceil(m.bytes / OPERATION_BYTES));
		batch = [];
		batchBytes = 0;
	};
	for (const message of messages) {
		if (batch.length >= BATCH_MAX_MESSAGES || batchBytes + message.bytes > BATCH_MAX_BYTES) await flush();
		batch.push(message);
		batchBytes += message.bytes;
	}
	await flush();
	return messages.length;
}

/** Queues operations a message of `bytes` costs for one write, read or delete. */
export function operationsFor(bytes: number): number {
	return Math.max(1, Math.ceil(bytes / OPERATION_BYTES));
}
