// One Durable Object per trace: it stores the trace's spans as they arrive, finalizes the trace to
// R2 after a quiet period, and reopens it when late spans come.
import { DurableObject } from "cloudflare:workers";
import { loadConfig, type Config } from "../config";
import type { Env } from "../env";
import { spanIdentity } from "../otlp/span-facts";
import { forEachSpan } from "../otlp/wire";
import { traceKey, type TraceAddress } from "../trace-address";
import { assembleTrace } from "./assemble";
import { SpanStore, type IncomingSpan } from "./span-store";
import { summarizeTrace, summaryMetadata } from "./summary";

export interface IngestResult {
	/** Spans stored for the first time. */
	accepted: number;
	/** Spans this trace already had (an exporter's retry), not stored again. */
	duplicates: number;
}

export type TraceView =
	/** Nothing here: the trace is unknown, or its object has forgotten it (R2 may still hold it). */
	| { state: "unknown" }
	/** Finalized and not reopened: R2 holds all of it. */
	| { state: "complete"; key: string }
	/** Open: R2's copy (if any) merged with the spans not yet written. */
	| { state: "partial"; trace: Uint8Array };

interface Finalized {
	/** When the last successful R2 write happened (ms since epoch). */
	at: number;
	spanCount: number;
}

/** Retries of a failing R2 write back off from 2 s up to this, and never give up. */
const MAX_RETRY_DELAY_MS = 5 * 60_000;

export class TraceAssembler extends DurableObject<Env> {
	readonly #config: Config;
	readonly #store: SpanStore;

	constructor(ctx: DurableObjectState, env: Env) {
		super(ctx, env);
		this.#config = loadConfig(env);
		// SQLite calls are synchronous, so state loads here without blockConcurrencyWhile: no request
		// can run before the constructor returns.
		this.#store = new SpanStore(ctx.storage.sql);
	}

	/** Stores a TracesData of this trace's spans; resolves once they are durable. */
	async ingest(address: TraceAddress, batch: Uint8Array): Promise<IngestResult> {
		this.#remember(address);
		const incoming: IncomingSpan[] = [];
		forEachSpan(batch, (resourceHead, scopeHead, body) => {
			incoming.push({ resourceHead, scopeHead, body, identity: spanIdentity(body) });
		});
		const wasIdle = this.#store.pending.length === 0;
		const added = this.#store.add(incoming);
		if (added.length > 0) {
			const now = Date.now();
			if (wasIdle) this.#store.setMeta("firstPendingAt", now);
			await this.#scheduleFinalize(now);
		}
		return { accepted: added.length, duplicates: incoming.length - added.length };
	}

	/** What a reader should see now. */
	async view(address: TraceAddress): Promise<TraceView> {
		if (this.#store.pending.length === 0) {
			return this.#store.meta<Finalized>("finalized") ? { state: "complete", key: traceKey(address) } : { state: "unknown" };
		}
		const stored = await this.#readStored(address);
		return { state: "partial", trace: assembleTrace(stored, this.#store.pending) };
	}

	override async alarm(): Promise<void> {
		const address = this.#store.meta<TraceAddress>("address");
		if (!address) return;
		if (this.#store.pending.length > 0) {
			await this.#finalize(address);
			return;
		}
		const finalized = this.#store.meta<Finalized>("finalized");
		if (finalized && Date.now() >= finalized.at + this.#config.retentionMs) {
			// R2 holds the trace; a late span after this starts afresh and merges with R2's copy.
			await this.ctx.storage.deleteAlarm();
			await this.ctx.storage.deleteAll();
			this.#store.reset();
		}
	}

	async #finalize(address: TraceAddress): Promise<void> {
		const upTo = this.#store.lastSeq;
		const key = traceKey(address);
		let spanCount: number;
		try {
			// Requests interleave with these awaits: spans that arrive meanwhile get a higher seq,
			// stay pending, and are written next time.
			const stored = await this.#readStored(address);
			const trace = assembleTrace(stored, this.#store.pending.filter((span) => span.seq <= upTo));
			const summary = summarizeTrace(trace);
			spanCount = summary.spanCount;
			await this.env.TRACES.put(key, trace, {
				httpMetadata: { contentType: "application/x-protobuf" },
				customMetadata: summaryMetadata(summary, { traceId: address.traceId }),
			});
		} catch (e) {
			const attempts = (this.#store.meta<number>("failedWrites") ?? 0) + 1;
			const delay = Math.min(2_000 * 2 ** (attempts - 1), MAX_RETRY_DELAY_MS);
			console.error(`TraceAssembler ${key}: R2 write failed (attempt ${attempts}), retrying in ${delay} ms:`, e);
			this.#store.setMeta("failedWrites", attempts);
			// Our own backoff instead of throwing: the platform gives up after six alarm retries.
			await this.ctx.storage.setAlarm(Date.now() + delay);
			return;
		}
		const now = Date.now();
		this.#store.markWritten(upTo);
		this.#store.setMeta("finalized", { at: now, spanCount } satisfies Finalized);
		this.#store.setMeta("failedWrites", undefined);
		if (this.#store.pending.length > 0) {
			this.#store.setMeta("firstPendingAt", now);
			await this.#scheduleFinalize(now);
		} else {
			this.#store.setMeta("firstPendingAt", undefined);
			await this.ctx.storage.setAlarm(now + this.#config.retentionMs);
		}
	}

	/** Finalize after the quiet period, or at the trace's age limit, but not sooner than R2 allows. */
	async #scheduleFinalize(now: number): Promise<void> {
		const { quietPeriodMs, maxTraceAgeMs, minRewriteIntervalMs } = this.#config;
		const firstPendingAt = this.#store.meta<number>("firstPendingAt") ?? now;
		let at = Math.min(now + quietPeriodMs, firstPendingAt + maxTraceAgeMs);
		const lastWrite = this.#store.meta<Finalized>("finalized")?.at;
		if (lastWrite !== undefined) at = Math.max(at, lastWrite + minRewriteIntervalMs);
		await this.ctx.storage.setAlarm(at);
	}

	async #readStored(address: TraceAddress): Promise<Uint8Array | undefined> {
		const object = await this.env.TRACES.get(traceKey(address));
		return object ? new Uint8Array(await object.arrayBuffer()) : undefined;
	}

	#remember(address: TraceAddress): void {
		const known = this.#store.meta<TraceAddress>("address");
		if (!known || known.tenant !== address.tenant || known.traceId !== address.traceId) this.#store.setMeta("address", address);
	}
}
