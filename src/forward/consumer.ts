// The forwarding queue's consumer (the same Worker): each message is one OTLP/HTTP request to one
// destination. Delivered → ack; retryable (otlp-result.ts) → retry with a delay (Retry-After or
// backoff), per message, so one slow destination never holds another's; permanent, or retries
// used up → the dead-letter queue with the status and the answer, then ack. At most
// FORWARD_CONCURRENCY requests per destination are in flight in one invocation, and wrangler.toml's
// max_concurrency bounds the invocations. Delivery is at least once: a destination that stored a
// request but whose answer was lost (timeout, dropped connection) gets it again on the retry.
import { loadConfig } from "../config";
import type { Env } from "../env";
import { runLimited } from "../http/pool";
import { countUsage } from "../metering/usage";
import type { Destination } from "./config";
import { postTraces } from "./destination";
import type { DeadLetter, ForwardMessage } from "./message";
import { backoffSeconds, type Outcome } from "./otlp-result";
import { operationsFor } from "./producer";
import { addCounters, destinationCounter, rejectedCounter, type Counters } from "./stats";

/** Deliveries of one message before it is dead-lettered; wrangler.toml's max_retries is the same. */
export const MAX_ATTEMPTS = 100;

export async function forwardBatch(batch: MessageBatch<ForwardMessage>, env: Env, fetcher: typeof fetch = fetch): Promise<void> {
	countUsage("queueBatches");
	let config;
	try {
		config = loadConfig(env).forward;
	} catch (e) {
		// A bad variable is the deployment's to fix; the messages wait for the fix (retries are bounded).
		console.error(`forward: configuration unreadable, ${batch.messages.length} messages retried in 60 s:`, e);
		batch.retryAll({ delaySeconds: 60 });
		return;
	}
	const maxDelayS = config.maxRetryDelayS;
	const counters = new Map<string, Counters>();
	const count = (tenant: string, key: string, n: number) => {
		const c = counters.get(tenant) ?? {};
		c[key] = (c[key] ?? 0) + n;
		counters.set(tenant, c);
	};
	const groups = new Map<string, Message<ForwardMessage>[]>();
	for (const message of batch.messages) {
		// Each delivery is a read; the ack that follows, a delete.
		countUsage("queueOperations", 2 * operationsFor(message.body.payload?.length ?? 300));
		const list = groups.get(message.body.destination) ?? [];
		list.push(message);
		groups.set(message.body.destination, list);
	}
	await Promise.all(
		[...groups].map(([name, messages]) => {
			const destination = config.destinations.find((d) => d.name === name);
			return runLimited(messages, config.concurrency, (message) =>
				deliver(env, destination, message, maxDelayS, count, fetcher).catch((e: unknown) => {
					// An R2 read of the piece (or the like) failed here, not at the destination: try again later.
					console.error(`forward: trace ${message.body.traceId} to ${name}: delivery failed before the request, retrying:`, e);
					message.retry({ delaySeconds: backoffSeconds(message.attempts, maxDelayS) });
				}),
			);
		}),
	);
	await Promise.all([...counters].map(([tenant, deltas]) => addCounters(env, tenant, batch.queue, deltas)));
}

async function deliver(env: Env, destination: Destination | undefined, message: Message<ForwardMessage>, maxDelayS: number, count: (tenant: string, key: string, n: number) => void, fetcher: typeof fetch): Promise<void> {
	const m = message.body;
	const traces = m.piece === 0 ? 1 : 0;
	const what = `trace ${m.traceId}${m.tenant ? ` (tenant ${m.tenant})` : ""} piece ${m.piece + 1}/${m.pieces} to ${m.destination}`;
	let outcome: Outcome;
	if (!destination) {
		outcome = { kind: "permanent", status: 0, reason: `destination ${m.destination} is no longer in FORWARD_DESTINATIONS` };
	} else {
		const payload = m.payload ?? (await readPiece(env, m.payloadKey));
		outcome = payload ? await postTraces(destination, payload, fetcher) : { kind: "permanent", status: 0, reason: `the piece ${m.payloadKey} is gone from R2 (lifecycle rule shorter than the queue's retention?)` };
	}
	if (outcome.kind === "delivered") {
		message.ack();
		count(m.tenant, destinationCounter(m.destination, "sent", "traces"), traces);
		count(m.tenant, destinationCounter(m.destination, "sent", "spans"), m.spans);
		if (outcome.rejectedSpans > 0 || outcome.message) {
			count(m.tenant, rejectedCounter(m.destination), outcome.rejectedSpans);
			console.warn(`forward: ${what}: partial success, ${outcome.rejectedSpans} spans rejected: ${outcome.message}`);
		}
		return;
	}
	if (outcome.kind === "retry" && message.attempts < MAX_ATTEMPTS) {
		const delaySeconds = Math.min(outcome.retryAfterS ?? backoffSeconds(message.attempts, maxDelayS), 12 * 3600);
		console.warn(`forward: ${what}: ${outcome.reason}; attempt ${message.attempts}, retrying in ${delaySeconds} s`);
		message.retry({ delaySeconds });
		count(m.tenant, destinationCounter(m.destination, "retried", "traces"), traces);
		count(m.tenant, destinationCounter(m.destination, "retried", "spans"), m.spans);
		return;
	}
	const reason = outcome.kind === "retry" ? `gave up after ${message.attempts} attempts; last: ${outcome.reason}` : outcome.reason;
	console.error(`forward: ${what}: dead-lettered: ${reason}`);
	const letter: DeadLetter = { ...m, status: outcome.status, reason, attempts: message.attempts, at: Date.now() };
	try {
		if (!env.FORWARD_DLQ) throw new Error("the FORWARD_DLQ binding is missing");
		await env.FORWARD_DLQ.send(letter, { contentType: "v8" });
		countUsage("queueOperations", operationsFor(m.payload?.length ?? 300));
	} catch (e) {
		// Never lose a message because its dead letter could not be written: try it all again later.
		console.error(`forward: ${what}: dead-letter queue refused it, retrying the message:`, e);
		message.retry({ delaySeconds: maxDelayS });
		return;
	}
	message.ack();
	count(m.tenant, destinationCounter(m.destination, "deadLettered", "traces"), traces);
	count(m.tenant, destinationCounter(m.destination, "deadLettered", "spans"), m.spans);
}

async function readPiece(env: Env, key: string | undefined): Promise<Uint8Array | undefined> {
	if (!key) return undefined;
	countUsage("r2ClassB");
	const object = await env.TRACES.get(key);
	return object ? new Uint8Array(await object.arrayBuffer()) : undefined;
}

