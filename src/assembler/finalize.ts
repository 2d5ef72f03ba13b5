// Finalization: after the quiet period (or at the trace's age limit, but never sooner than R2
// allows), the object writes R2's copy merged with its pending spans as one TracesData object.
// The quiet period slides without moving the alarm on every part: the alarm is set once, and when
// it fires before the last arrival's quiet period is over it is set again for the remainder.
import { finalizedFrame } from "../live/messages";
import { traceKey, type TraceAddress } from "../trace-address";
import { assembleTrace } from "./assemble";
import type { TraceContext } from "./context";
import type { MergeOutbox } from "./merge";
import { countUsage } from "../metering/usage";
import { permanentR2Failure } from "./r2-errors";
import type { TraceState } from "./part-store";
import type { EntryPlace } from "../search/trace-hooks";
import { putCounted, readStoredTrace, writtenMark } from "./stored-trace";
import { summarizeTrace, summaryMetadata, type TraceSummary } from "./summary";
import type { WritePlan } from "../forward/trace-hook";

/** Retries of a failing R2 write or merge back off from 2 s up to this, and never give up while the failure may pass. */
const MAX_RETRY_DELAY_MS = 5 * 60_000;
/**
 * An R2 write that fails permanently (a 4xx: the same write would fail again) is tried this many
 * times in all, in case the code was misread, then given up until new spans come (README,
 * "Storage and lifecycle").
 */
const PERMANENT_FAILURE_ATTEMPTS = 3;

export class Finalizer {
	readonly #t: TraceContext;
	readonly #merge: () => MergeOutbox;

	constructor(context: TraceContext, merge: () => MergeOutbox) {
		this.#t = context;
		this.#merge = merge;
	}

	/** When the pending spans are due in R2: quiet period after the last arrival, capped by age, spaced by R2's rewrite limit. */
	dueAt(now: number): number {
		const { quietPeriodMs, maxTraceAgeMs, minRewriteIntervalMs } = this.#t.config;
		const store = this.#t.store;
		const last = store.lastArrivalAt ?? now;
		const first = store.firstPendingAt ?? now;
		let at = Math.min(last + quietPeriodMs, first + maxTraceAgeMs);
		const lastWrite = store.state.finalized?.at;
		if (lastWrite !== undefined) at = Math.max(at, lastWrite + minRewriteIntervalMs);
		return at;
	}

	/** After new spans arrived: an alarm at the due time or sooner (usually already set). */
	schedule(now: number): void {
		// Not awaited: storage writes from one event are committed together before the reply leaves.
		void this.#t.clock.atOrBefore(this.dueAt(now));
	}

	/**
	 * The alarm fired with spans pending. An alarm run before the time it was set for was started by
	 * hand (tests, an operator): it finalizes at once. Otherwise an alarm set before later parts
	 * arrived is moved to the end of their quiet period.
	 */
	async onAlarm(address: TraceAddress, scheduledAt: number | null): Promise<void> {
		const now = Date.now();
		const byHand = scheduledAt !== null && now < scheduledAt;
		const due = this.dueAt(now);
		if (!byHand && now < due) {
			await this.#t.clock.set(due);
			return;
		}
		await this.finalize(address);
	}

	async finalize(address: TraceAddress): Promise<void> {
		const { store, env } = this.#t;
		// A claim held for verification (TAIL_STITCH_EXTERNAL=verified) is decided before the write.
		if (store.state.claim && (await this.#merge().settleClaim(address))) {
			await this.#merge().moveToParentOrRetry();
			return;
		}
		const upTo = store.lastSeq;
		const key = traceKey(address);
		let trace: Uint8Array;
		let summary: TraceSummary;
		let place: EntryPlace | undefined;
		let plan: WritePlan;
		try {
			// Requests interleave with these awaits: spans that arrive meanwhile get a higher seq,
			// stay pending, and are written next time.
			const stored = await readStoredTrace(env, address);
			if (stored?.redirect) {
				// This object forgot that its trace had joined another; R2 remembers.
				store.saveState({ mergedInto: { ...stored.redirect, at: Date.now() }, movedStored: true });
				await this.#merge().moveToParentOrRetry();
				return;
			}
			const parts = store.pending.filter((span) => span.seq <= upTo);
			trace = assembleTrace(stored?.trace, parts);
			summary = summarizeTrace(trace, address.traceId);
			// Recorded with the trace in R2 (writtenMark), so no state row has to keep it.
			place = await this.#t.search.placeForWrite(address, trace);
			// Tail sampling: decide (or recall) and queue the kept spans before the write (src/forward/).
			plan = await this.#t.forward.beforeWrite(address, stored, trace, parts, upTo);
			if (plan.store) {
				await putCounted(env, key, trace, {
					httpMetadata: { contentType: "application/x-protobuf" },
					customMetadata: {
						...summaryMetadata(summary, address.traceId, store.state.merges ?? [], store.state.refused ?? [], store.droppedSpans),
						...plan.metadata,
						...writtenMark(store.epoch, upTo, place),
					},
				});
			}
		} catch (e) {
			this.#t.forward.writeFailed();
			await this.#writeFailed(key, upTo, e);
			return;
		}
		const now = Date.now();
		const written: Partial<TraceState> = { finalized: { at: now, spanCount: summary.spanCount }, storedBytes: trace.length, failedAttempts: undefined, unwritten: undefined, ...this.#t.search.placeToPersist(), ...plan.state };
		const rowNeeded = store.epoch === undefined || !plan.store || Object.keys(plan.state).length > 0 || store.state.failedAttempts !== undefined || store.state.unwritten !== undefined;
		if (!rowNeeded) {
			// No row: R2's metadata now says what is written up to where (writtenMark), and a restarted
			// object reads it back (catchUpWithR2). The parts themselves are not touched.
			store.noteWritten(upTo, written);
		} else {
			// One row: a failure to forget, a forwarding decision to keep (src/forward/), a trace not
			// stored in R2 (so no metadata to carry the mark), or parts stored before epochs existed.
			store.markWritten(upTo);
			store.saveState({ writtenUpTo: upTo, ...written });
		}
		this.#t.forward.written();
		const stillOpen = store.pending.length > 0;
		// Spans that came during the write keep the trace open: the next write says "finalized".
		if (stillOpen) this.schedule(now);
		else void this.#t.clock.set(now + this.#t.config.retentionMs);
		await this.#traceFinalized(address, trace, summary, stillOpen, plan.store);
	}

	/**
	 * The moment an R2 write of the trace succeeded: `trace` is what R2 now holds. `stillOpen` when
	 * spans arrived during the write (another write follows). Live subscribers hear of a complete
	 * trace here.
	 */
	async #traceFinalized(address: TraceAddress, trace: Uint8Array, summary: TraceSummary, stillOpen: boolean, stored = true): Promise<void> {
		if (!stillOpen) this.#t.live.broadcast(finalizedFrame(summary.spanCount, traceKey(address)));
		// STORE_TRACES=sampled dropped the trace: nothing in R2, and its open entry is hidden for good.
		if (!stored) {
			if (!(await this.#t.search.merged(address))) await this.retryLater("search tombstone write", "partition unavailable");
			return;
		}
		// Search (b): what R2 now holds replaces the index entry after every write, also when spans
		// came during it (the entry then stays open): a trace that never goes quiet between writes
		// is otherwise searchable only by its first batch. A failure is retried by the alarm.
		if (!(await this.#t.search.finalized(address, trace, this.#t.store.state.finalized!.at, stillOpen))) await this.retryLater("search index write", "partition unavailable");
	}

	/**
	 * Whether the pending spans are ones whose R2 write was given up (a permanent failure) and no
	 * span came since: the alarm then only waits for retention instead of writing again.
	 */
	get givenUp(): boolean {
		const unwritten = this.#t.store.state.unwritten;
		return unwritten !== undefined && this.#t.store.lastSeq <= unwritten.upTo;
	}

	/**
	 * A failed R2 write: retried with backoff for as long as the failure may pass; a permanent one
	 * (a 4xx) only PERMANENT_FAILURE_ATTEMPTS times, then the parts up to `upTo` are marked
	 * unwritten, logged and counted, and the alarm is set for retention. They stay readable from
	 * this object until then; spans that arrive later try the write again, as often.
	 */
	async #writeFailed(key: string, upTo: number, error: unknown): Promise<void> {
		const { store, clock, config } = this.#t;
		const permanent = permanentR2Failure(error);
		const attempts = (store.state.failedAttempts ?? 0) + 1;
		if (permanent === undefined || attempts < PERMANENT_FAILURE_ATTEMPTS) {
			await this.retryLater(`R2 write of ${key}`, error);
			return;
		}
		const now = Date.now();
		console.error(`TraceAssembler ${store.address?.traceId}: R2 write of ${key} failed permanently (${permanent}) ${attempts} times; given up: ${store.pending.length} spans stay readable from this object until it frees its storage in ${config.retentionMs} ms:`, error);
		countUsage("r2WritesGivenUp");
		store.saveState({ failedAttempts: undefined, unwritten: { at: now, upTo, reason: permanent } });
		await clock.set(now + config.retentionMs);
	}

	/** Our own backoff instead of throwing: the platform gives up after six alarm retries. */
	async retryLater(what: string, error: unknown): Promise<void> {
		const { store, clock } = this.#t;
		const attempts = (store.state.failedAttempts ?? 0) + 1;
		const delay = Math.min(2_000 * 2 ** (attempts - 1), MAX_RETRY_DELAY_MS);
		console.error(`TraceAssembler ${store.address?.traceId}: ${what} failed (attempt ${attempts}), retrying in ${delay} ms:`, error);
		store.saveState({ failedAttempts: attempts });
		await clock.set(Date.now() + delay);
	}
}
