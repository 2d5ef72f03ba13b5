// Accepting a trace part: de-duplicate against every span this object stored, apply the per-trace
// limits, store the new spans as one row, tell live subscribers, and make sure the finalization
// alarm is set (it usually is already: it is not moved for every part).
import { reopenedFrame, spansFrame } from "../live/messages";
import { spanIdentity } from "../otlp/span-facts";
import { forEachSpan } from "../otlp/wire";
import { detectStitch } from "../stitch/detect";
import type { TraceAddress } from "../trace-address";
import { assembleTrace } from "./assemble";
import type { TraceContext } from "./context";
import type { Finalizer } from "./finalize";
import type { MergeOutbox } from "./merge";
import type { IncomingSpan, PendingSpan } from "./part-store";
import type { IngestResult } from "./types";

export class Intake {
	readonly #t: TraceContext;
	readonly #finalizer: Finalizer;
	readonly #merge: MergeOutbox;

	constructor(context: TraceContext, finalizer: Finalizer, merge: MergeOutbox) {
		this.#t = context;
		this.#finalizer = finalizer;
		this.#merge = merge;
	}

	/** Stores a TracesData of this trace's spans; resolves once they are durable. */
	async ingest(address: TraceAddress, batch: Uint8Array): Promise<IngestResult> {
		const incoming: IncomingSpan[] = [];
		forEachSpan(batch, (resourceHead, scopeHead, body) => {
			incoming.push({ resourceHead, scopeHead, body, identity: spanIdentity(body) });
		});
		// What the trace held before this part: a root among it is not re-parented by a claim in it.
		const earlier = this.#t.store.lastSeq;
		const { added, dropped } = await this.accept(address, incoming, batch);
		if (added.length > 0 && !this.#merge.mergedInto) {
			for (const span of added) {
				const candidate = detectStitch(span, this.#merge.stitchOptions);
				if (candidate) await this.#merge.consider(address, candidate, earlier);
			}
		}
		if (this.#merge.mergedInto) await this.#merge.moveToParentOrRetry();
		const mergedInto = this.#merge.mergedInto;
		return {
			accepted: added.length,
			duplicates: incoming.length - added.length - dropped,
			rejected: dropped,
			rejectReason: dropped > 0 ? this.limitReason(address) : undefined,
			...(mergedInto ? { mergedInto: { traceId: mergedInto.traceId, intoTraceId: mergedInto.intoTraceId, parentSpanId: mergedInto.parentSpanId, rule: mergedInto.rule } } : {}),
		};
	}

	/** Stores the new spans among `incoming` as one part (`whole`: the part as it arrived). */
	async accept(address: TraceAddress, incoming: readonly IncomingSpan[], whole?: Uint8Array): Promise<{ added: Uint8Array[]; dropped: number }> {
		const { store, config, live } = this.#t;
		const wasIdle = store.pending.length === 0;
		const now = Date.now();
		const { added, dropped } = store.add(
			address,
			incoming,
			{ spans: config.maxSpansPerTrace - store.knownCount, bytes: config.maxTraceBytes - (store.state.storedBytes ?? 0) - store.pendingBytes },
			now,
			whole,
		);
		if (dropped > 0) {
			// Never silently partial: the count reaches R2 metadata, the read API and the exporter.
			console.warn(`TraceAssembler ${address.traceId}: dropped ${dropped} spans: ${this.limitReason(address)}`);
		}
		if (added.length > 0) {
			if (!this.#merge.mergedInto) this.#finalizer.schedule(now);
			if (wasIdle) await this.#traceOpened(address, store.state.finalized !== undefined, added);
			if (live.any) live.broadcast(spansFrame(assembleTrace(undefined, added)));
		}
		return { added: added.map((span) => span.body), dropped };
	}

	limitReason(address: TraceAddress): string {
		const { maxSpansPerTrace, maxTraceBytes } = this.#t.config;
		return `trace ${address.traceId} reached its limit (MAX_SPANS_PER_TRACE ${maxSpansPerTrace}, MAX_TRACE_BYTES ${maxTraceBytes})`;
	}

	/**
	 * The moment the trace has spans waiting again: its first span here, or the first after a
	 * finalization (`reopened`). Live subscribers hear of a reopening.
	 */
	async #traceOpened(address: TraceAddress, reopened: boolean, added: readonly PendingSpan[]): Promise<void> {
		if (reopened) this.#t.live.broadcast(reopenedFrame());
		// Search (a): the first span ever accepted writes an open index entry, after the reply.
		if (!this.#merge.mergedInto) this.#t.search.opened(address, added);
	}
}
