// Merging into the parent trace: a trace whose spans record the caller's context joins the
// caller's trace. The decision is stored first (an outbox), then the spans move to the parent's
// object in RPC-sized batches; the alarm resumes a move that was cut short. Spans of other traces
// arrive here through `adopt`, rewritten into this trace, or pass on up a chain of merges.
import { mergedFrame, redirectFrame } from "../live/messages";
import { spanIdentity } from "../otlp/span-facts";
import { equalBytes, forEachSpan, fromHex, TracesDataWriter } from "../otlp/wire";
import { detectStitch, type StitchCandidate, type StitchOptions } from "../stitch/detect";
import { concatBytes, readSpanFields, toHex } from "../otlp/wire";
import { MAX_MERGE_HOPS } from "./types";
import { moveSpan } from "../stitch/rewrite";
import { objectName, traceKey, type TraceAddress } from "../trace-address";
import { assembleChunks } from "./assemble";
import type { TraceContext } from "./context";
import type { Finalizer } from "./finalize";
import type { IncomingSpan } from "./part-store";
import { putCounted, readStoredTrace } from "./stored-trace";
import type { AdoptMessage, AdoptResult, MergeRecord, Refusal, StitchResult } from "./types";

/** Spans move between objects in RPC messages of about this size. */
const MOVE_CHUNK_BYTES = 4 * 1024 * 1024;
/** If the move that follows a merge decision is cut short, the alarm resumes it after this. */
const OUTBOX_RETRY_MS = 5_000;
/** A merge chain longer than this is refused (producers' context is broken somewhere). */
const MAX_CHAIN = 32;
/**
 * The state lists at most this many traces merged in (the first ones): every merge adds ≈ 45 bytes
 * to the read headers and the state row, and a list without a bound would outgrow the 128 KB
 * response header limit and then the 2 MB row. The count of all of them is read from the spans.
 */
export const MAX_LISTED_MERGES = 100;

export class MergeOutbox {
	readonly #t: TraceContext;
	readonly #finalizer: Finalizer;
	/** Moves to the parent trace run one after another; concurrent ingests queue behind. */
	#moving: Promise<void> = Promise.resolve();
	readonly #stitchOptions: StitchOptions;

	constructor(context: TraceContext, finalizer: Finalizer) {
		this.#t = context;
		this.#finalizer = finalizer;
		const encoder = new TextEncoder();
		this.#stitchOptions = { attributeKeys: context.config.stitchAttributes.map((key) => encoder.encode(key)), links: context.config.stitchLinks };
	}

	get stitchOptions(): StitchOptions {
		return this.#stitchOptions;
	}

	/**
	 * A claim found in a span (traceparent or link rule) or sent by the tail consumer. Parts up to
	 * seq `heldUpTo` are what this object held before the claim's own part arrived.
	 *
	 * Two rules guard against a caller that names a trace it does not own (issue 18):
	 * - A trace that already holds a root span is not re-parented by a later claim from another span,
	 *   unless that root makes the same claim: a root is where the trace starts, or it names its own
	 *   caller. A late root that carries the claim still stitches (its trace had no root before).
	 *   Checked here against the spans in memory, and again against R2's copy when the spans move.
	 * - A claim marked `verify` (TAIL_STITCH_EXTERNAL=verified) merges only once the claimed parent
	 *   span exists in the parent trace: checked now, and if it is not there yet, at finalization.
	 */
	async consider(address: TraceAddress, candidate: StitchCandidate, heldUpTo: number): Promise<void> {
		if (candidate.parentTraceId === address.traceId || this.mergedInto) return this.considerStitch(address, candidate);
		if (this.refusals.some((r) => r.intoTraceId === candidate.parentTraceId)) return;
		if (candidate.rule !== "hint") {
			const earlier = this.#t.store.pending.filter((span) => span.seq <= heldUpTo).map((span) => span.body);
			const conflict = this.#rootConflict(address, candidate, earlier);
			if (conflict) return this.#refuse(candidate.parentTraceId, conflict);
		}
		if (candidate.verify) {
			if (!(await this.#parentHasSpan(address, candidate))) {
				// Held, not refused: an outside caller exports its own span after the call returns.
				if (this.#t.store.state.claim?.parentTraceId !== candidate.parentTraceId) this.#t.store.saveState({ address, claim: { ...candidate, at: Date.now() } });
				return;
			}
			if (this.#t.store.state.claim) this.#t.store.saveState({ claim: undefined });
		}
		this.considerStitch(address, candidate);
	}

	/**
	 * At finalization: a held claim is decided. Merges (true: the caller moves the spans) when the
	 * parent span has arrived meanwhile; otherwise refuses it, and the trace is finalized on its own.
	 */
	async settleClaim(address: TraceAddress): Promise<boolean> {
		const claim = this.#t.store.state.claim;
		if (!claim || this.mergedInto) return false;
		if (await this.#parentHasSpan(address, claim)) {
			this.#t.store.saveState({ claim: undefined });
			this.considerStitch(address, { ...claim, verify: false });
			return this.mergedInto !== undefined;
		}
		const reason = `unverified: span ${claim.parentSpanId} is not in trace ${claim.parentTraceId} (TAIL_STITCH_EXTERNAL=verified)`;
		console.warn(`TraceAssembler ${address.traceId}: merge into ${claim.parentTraceId} refused: ${reason}`);
		this.#t.store.saveState({ claim: undefined, refused: this.#withRefusal(claim.parentTraceId, reason) });
		return false;
	}

	/**
	 * Whether this trace holds the span `originTraceId`/`spanId` (the original ids: a span merged in
	 * keeps them), in memory, in R2's copy, or where this trace was merged to (at most `hops` on).
	 */
	async holdsSpan(address: TraceAddress, originTraceId: string, spanId: string, hops: number): Promise<boolean> {
		const identity = concatBytes([fromHex(originTraceId)!, fromHex(spanId)!]);
		const { store, env } = this.#t;
		if (store.has(identity)) return true;
		const merged = this.mergedInto;
		if (merged && hops > 0) return this.#parentStub(address, merged).hasSpan(this.#parentAddress(address, merged), originTraceId, spanId, hops - 1);
		// Memory knows every span since the object last freed its storage; R2 may hold older ones.
		if (store.stored && !store.state.finalized) return false;
		const stored = await readStoredTrace(env, address);
		if (stored?.redirect && hops > 0) {
			const into = { tenant: address.tenant, traceId: stored.redirect.intoTraceId };
			return env.TRACE_ASSEMBLER.getByName(objectName(into)).hasSpan(into, originTraceId, spanId, hops - 1);
		}
		let found = false;
		if (stored?.trace) forEachSpan(stored.trace, (_r, _s, body) => (found ||= equalBytes(spanIdentity(body), identity)));
		return found;
	}

	async #parentHasSpan(address: TraceAddress, candidate: StitchCandidate): Promise<boolean> {
		const parent = { tenant: address.tenant, traceId: candidate.parentTraceId };
		try {
			return await this.#t.env.TRACE_ASSEMBLER.getByName(objectName(parent)).hasSpan(parent, candidate.parentTraceId, candidate.parentSpanId, MAX_MERGE_HOPS);
		} catch (e) {
			// Not verified now; the claim is held and asked again at finalization.
			console.warn(`TraceAssembler ${address.traceId}: could not verify span ${candidate.parentSpanId} of ${candidate.parentTraceId}:`, e);
			return false;
		}
	}

	/** Why `candidate` may not re-parent this trace, given the spans `bodies` it held before the claim. */
	#rootConflict(address: TraceAddress, candidate: { parentTraceId: string; claimedBy?: string }, bodies: Iterable<Uint8Array>): string | undefined {
		for (const body of bodies) {
			const facts = readSpanFields(body); // ids only: names, times and status are not needed here
			if (facts.parentSpanId.length > 0 || toHex(facts.traceId) !== address.traceId) continue;
			const rootId = toHex(facts.spanId);
			if (rootId === candidate.claimedBy) continue;
			const own = detectStitch(body, this.#stitchOptions);
			if (own?.parentTraceId === candidate.parentTraceId) continue;
			return `trace already has a root span ${rootId} ${own ? `whose caller is ${own.parentTraceId}` : "(where the trace starts)"}; a claim from span ${candidate.claimedBy ?? "?"} does not re-parent it`;
		}
		return undefined;
	}

	get mergedInto(): MergeRecord | undefined {
		return this.#t.store.state.mergedInto;
	}

	get merges(): MergeRecord[] {
		return this.#t.store.state.merges ?? [];
	}

	get refusals(): Refusal[] {
		return this.#t.store.state.refused ?? [];
	}

	/** Records a merge into `candidate`'s trace unless it would be a self-reference or a conflict. */
	considerStitch(address: TraceAddress, candidate: StitchCandidate): void {
		if (candidate.parentTraceId === address.traceId) return;
		if (this.refusals.some((r) => r.intoTraceId === candidate.parentTraceId)) return;
		const merged = this.mergedInto;
		if (merged) {
			if (merged.intoTraceId !== candidate.parentTraceId) this.#refuse(candidate.parentTraceId, `conflicts with the merge into ${merged.intoTraceId}`);
			return;
		}
		const record: MergeRecord & { at: number } = {
			traceId: address.traceId,
			intoTraceId: candidate.parentTraceId,
			parentSpanId: candidate.parentSpanId,
			rule: candidate.rule,
			...(candidate.claimedBy ? { claimedBy: candidate.claimedBy } : {}),
			at: Date.now(),
		};
		// Recorded first, so a crash before the move is resumed by the alarm (an outbox).
		this.#t.store.saveState({ address, mergedInto: record, movedStored: false });
		void this.#t.clock.atOrBefore(Date.now() + OUTBOX_RETRY_MS);
	}

	/** An explicit hint (POST /v1/stitch): this trace joins `candidate.parentTraceId`. */
	async stitch(address: TraceAddress, candidate: StitchCandidate): Promise<StitchResult> {
		const merged = this.mergedInto;
		if (merged && merged.intoTraceId !== candidate.parentTraceId) return { status: "refused", reason: `trace already merged into ${merged.intoTraceId}` };
		if (!merged) await this.consider(address, candidate, this.#t.store.lastSeq);
		if (!this.mergedInto && this.#t.store.state.claim?.parentTraceId === candidate.parentTraceId) {
			return { status: "pending", reason: `span ${candidate.parentSpanId} is not in trace ${candidate.parentTraceId} yet: checked again at finalization` };
		}
		if (!this.mergedInto) {
			const refusal = this.refusals.find((r) => r.intoTraceId === candidate.parentTraceId);
			return { status: "refused", reason: refusal?.reason ?? "refused" };
		}
		await this.moveToParentOrRetry();
		const after = this.mergedInto;
		if (after) return { status: "merged", into: after.intoTraceId };
		return { status: "refused", reason: this.refusals.at(-1)?.reason ?? "refused" };
	}

	/**
	 * Another trace's spans, rewritten into this trace: returned to be stored here, or passed on to
	 * where this trace went when it joined another itself.
	 */
	async adopt(address: TraceAddress, message: AdoptMessage): Promise<AdoptResult | { incoming: IncomingSpan[] }> {
		if (message.path.includes(address.traceId)) {
			console.warn(`TraceAssembler ${address.traceId}: refused merge of ${message.fromTraceId}: cycle ${[...message.path, address.traceId].join(" -> ")}`);
			return { ok: false, reason: `cycle: ${[...message.path, address.traceId].join(" -> ")}` };
		}
		if (message.path.length >= MAX_CHAIN) return { ok: false, reason: `merge chain longer than ${MAX_CHAIN} traces` };
		const ownId = fromHex(address.traceId)!;
		const rootParent = fromHex(message.parentSpanId)!;
		const writer = new TracesDataWriter();
		forEachSpan(message.batch, (resourceHead, scopeHead, span) => writer.add(resourceHead, scopeHead, moveSpan(span, ownId, rootParent)));
		const moved = writer.finish();
		const merged = this.mergedInto;
		if (merged) {
			// This trace itself joined another: the spans go on to where this one went.
			return this.#parentStub(address, merged).adopt(this.#parentAddress(address, merged), {
				fromTraceId: address.traceId,
				parentSpanId: merged.parentSpanId,
				path: [...message.path, address.traceId],
				merges: [...message.merges, merged],
				batch: moved,
			});
		}
		const incoming: IncomingSpan[] = [];
		forEachSpan(moved, (resourceHead, scopeHead, body) => incoming.push({ resourceHead, scopeHead, body, identity: spanIdentity(body) }));
		return { incoming };
	}

	/** Moves this trace's spans to the parent; on failure the alarm retries (they stay stored here). */
	moveToParentOrRetry(): Promise<void> {
		this.#moving = this.#moving.then(async () => {
			try {
				await this.#moveToParent();
				if (this.#t.store.state.failedAttempts !== undefined) this.#t.store.saveState({ failedAttempts: undefined });
			} catch (e) {
				await this.#finalizer.retryLater("moving spans to the parent trace", e);
			}
		});
		return this.#moving;
	}

	/** Lists traces merged into this one (from an adopted batch); live subscribers hear of each once. */
	recordMerges(records: readonly MergeRecord[]): void {
		const known = new Map(this.merges.map((m) => [m.traceId, m]));
		let changed = false;
		for (const record of records) {
			// Beyond the cap a merge is neither listed nor announced; its spans still arrive as `spans`.
			if (known.size >= MAX_LISTED_MERGES) break;
			if (!known.has(record.traceId)) {
				known.set(record.traceId, { traceId: record.traceId, intoTraceId: record.intoTraceId, parentSpanId: record.parentSpanId, rule: record.rule });
				this.#t.live.broadcast(mergedFrame(record.traceId, record.rule));
				changed = true;
			}
		}
		if (changed) this.#t.store.saveState({ merges: [...known.values()] });
	}

	async #moveToParent(): Promise<void> {
		const { store, env } = this.#t;
		const merged = this.mergedInto;
		const address = store.address;
		if (!merged || !address) return;
		const upTo = store.lastSeq;
		const movedStored = store.state.movedStored ?? false;
		const stored = movedStored ? undefined : await readStoredTrace(env, address);
		const pending = store.pending.filter((span) => span.seq <= upTo);
		if (stored?.trace && merged.rule !== "hint") {
			// The claim was checked against memory; R2 holds what was finalized before it (also after
			// this object forgot the trace): a root there is not re-parented either.
			const bodies: Uint8Array[] = [];
			forEachSpan(stored.trace, (_r, _s, body) => bodies.push(body));
			const conflict = this.#rootConflict(address, { parentTraceId: merged.intoTraceId, claimedBy: merged.claimedBy }, bodies);
			if (conflict) {
				this.#unmerge(conflict);
				return;
			}
		}
		if (stored?.trace || pending.length > 0) {
			const parent = this.#parentStub(address, merged);
			for (const batch of assembleChunks(stored?.trace, pending, MOVE_CHUNK_BYTES)) {
				const result = await parent.adopt(this.#parentAddress(address, merged), {
					fromTraceId: address.traceId,
					parentSpanId: merged.parentSpanId,
					path: [address.traceId],
					merges: [...this.merges, merged],
					batch,
				});
				if (!result.ok) {
					this.#unmerge(result.reason);
					return;
				}
			}
		}
		store.markWritten(upTo);
		if (!movedStored) {
			// Replaces this trace's own R2 object (if any): it now lives in the parent's, and a read of
			// this id, or a late span after this object forgot, finds the way there.
			await putCounted(env, traceKey(address), new Uint8Array(0), {
				customMetadata: { traceId: address.traceId, mergedInto: merged.intoTraceId, parentSpanId: merged.parentSpanId, rule: merged.rule },
			});
			store.saveState({ writtenUpTo: upTo, movedStored: true });
			this.#traceMergedAway(merged);
		} else if (upTo > store.state.writtenUpTo) {
			store.saveState({ writtenUpTo: upTo });
		}
		if (store.pending.length === 0) void this.#t.clock.set(Date.now() + this.#t.config.retentionMs);
		// Search (c): this trace now lives in the parent's entry; its own becomes a tombstone (once;
		// also when this object learnt of the merge from R2 after forgetting it). Retried by the alarm.
		if (!(await this.#t.search.merged(address))) await this.#finalizer.retryLater("search tombstone write", "partition unavailable");
	}

	/**
	 * The moment this trace became part of another (its spans moved, its R2 key redirects there).
	 * Live subscribers are sent on.
	 */
	#traceMergedAway(merged: MergeRecord): void {
		this.#t.live.broadcast(redirectFrame(merged.intoTraceId));
		this.#t.live.closeAll("trace merged into another");
	}

	/** The parent refused (a cycle): this trace stays on its own, and says so. */
	#unmerge(reason: string): void {
		const merged = this.mergedInto!;
		console.warn(`TraceAssembler ${merged.traceId}: merge into ${merged.intoTraceId} refused: ${reason}`);
		this.#t.store.saveState({ mergedInto: undefined, movedStored: undefined, refused: this.#withRefusal(merged.intoTraceId, reason) });
		if (this.#t.store.pending.length > 0) this.#finalizer.schedule(Date.now());
	}

	#refuse(intoTraceId: string, reason: string): void {
		this.#t.store.saveState({ refused: this.#withRefusal(intoTraceId, reason) });
	}

	#withRefusal(intoTraceId: string, reason: string): Refusal[] {
		return [...this.refusals, { intoTraceId, reason }].slice(-20);
	}

	#parentAddress(address: TraceAddress, merged: MergeRecord): TraceAddress {
		return { tenant: address.tenant, traceId: merged.intoTraceId };
	}

	#parentStub(address: TraceAddress, merged: MergeRecord) {
		return this.#t.env.TRACE_ASSEMBLER.getByName(objectName(this.#parentAddress(address, merged)));
	}
}
