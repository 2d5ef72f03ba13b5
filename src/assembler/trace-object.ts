// One Durable Object per trace: it stores the trace's spans as they arrive, finalizes the trace to
// R2 after a quiet period, reopens it when late spans come, and merges it into its caller's trace
// when propagated context says where it belongs.
import { DurableObject } from "cloudflare:workers";
import { loadConfig, type Config } from "../config";
import type { Env } from "../env";
import { spanIdentity } from "../otlp/span-facts";
import { forEachSpan, fromHex, TracesDataWriter } from "../otlp/wire";
import { finalizedFrame, mergedFrame, redirectFrame, reopenedFrame, snapshotFrames, spansFrame, type TraceStatus } from "../live/messages";
import { Subscribers } from "../live/subscribers";
import { detectStitch, type StitchCandidate, type StitchOptions } from "../stitch/detect";
import { moveSpan } from "../stitch/rewrite";
import { objectName, traceKey, type TraceAddress } from "../trace-address";
import { assembleChunks, assembleTrace } from "./assemble";
import { SpanStore, type IncomingSpan } from "./span-store";
import { summarizeTrace, summaryMetadata } from "./summary";
import { TraceSearchHooks } from "../search/trace-hooks";

export interface IngestResult {
	/** Spans stored for the first time. */
	accepted: number;
	/** Spans this trace already had (an exporter's retry), not stored again. */
	duplicates: number;
	/** New spans refused because the trace reached a limit; `rejectReason` says which. */
	rejected: number;
	rejectReason?: string;
	/** Set once this trace is merged into another: later spans may go to the parent directly. */
	mergedInto?: MergeRecord;
}

/** A trace merged into this one (or this one into another): which rule fired, under which span. */
export interface MergeRecord {
	traceId: string;
	intoTraceId: string;
	parentSpanId: string;
	rule: StitchCandidate["rule"];
}

export interface Refusal {
	intoTraceId: string;
	reason: string;
}

export type TraceView =
	/** Nothing here: the trace is unknown, or its object has forgotten it (R2 may still hold it). */
	| { state: "unknown" }
	/** Finalized and not reopened: R2 holds all of it. */
	| { state: "complete"; key: string }
	/** Open: R2's copy (if any) merged with the spans not yet written. */
	| { state: "partial"; trace: Uint8Array; merged: MergeRecord[]; refused: Refusal[]; droppedSpans: number }
	/** Merged into another trace: read that one. */
	| { state: "merged"; into: string };

/** A batch of another trace's spans moving into this one. */
export interface AdoptMessage {
	/** The trace the spans come from (they still carry its id). */
	fromTraceId: string;
	/** The span of this trace that the moving trace's roots hang under. */
	parentSpanId: string;
	/** Every trace the batch has passed through, to refuse a cycle without a global lock. */
	path: string[];
	/** The merges the batch's spans went through so far, so the final trace can list them all. */
	merges: MergeRecord[];
	batch: Uint8Array;
}

export type AdoptResult = { ok: true } | { ok: false; reason: string };

export type StitchResult = { status: "merged"; into: string } | { status: "refused"; reason: string };

interface Finalized {
	/** When the last successful R2 write happened (ms since epoch). */
	at: number;
	spanCount: number;
}

/** Retries of a failing R2 write or merge back off from 2 s up to this, and never give up. */
const MAX_RETRY_DELAY_MS = 5 * 60_000;
/** Spans move between objects in RPC messages of about this size. */
const MOVE_CHUNK_BYTES = 4 * 1024 * 1024;
/** If the move that follows a merge decision is cut short, the alarm resumes it after this. */
const OUTBOX_RETRY_MS = 5_000;
/** Snapshot frames carry about this much protobuf each (a WebSocket message is at most 1 MiB). */
const SNAPSHOT_CHUNK_BYTES = 256 * 1024;
/** The router names the trace of a live subscription in these headers (objects are not public). */
export const LIVE_TENANT_HEADER = "x-assembler-tenant";
export const LIVE_TRACE_HEADER = "x-assembler-trace-id";
/** A merge chain longer than this is refused (producers' context is broken somewhere). */
const MAX_CHAIN = 32;

export class TraceAssembler extends DurableObject<Env> {
	readonly #config: Config;
	readonly #stitchOptions: StitchOptions;
	readonly #store: SpanStore;
	readonly #live: Subscribers;
	/** Search index writes at three moments: first span, finalization, merge (src/search/trace-hooks.ts). */
	readonly #search: TraceSearchHooks;
	/** Moves to the parent trace run one after another; concurrent ingests queue behind. */
	#moving: Promise<void> = Promise.resolve();

	constructor(ctx: DurableObjectState, env: Env) {
		super(ctx, env);
		this.#config = loadConfig(env);
		const encoder = new TextEncoder();
		this.#stitchOptions = {
			attributeKeys: this.#config.stitchAttributes.map((key) => encoder.encode(key)),
			links: this.#config.stitchLinks,
		};
		// SQLite calls are synchronous, so state loads here without blockConcurrencyWhile: no request
		// can run before the constructor returns.
		this.#store = new SpanStore(ctx.storage.sql);
		this.#live = new Subscribers(ctx);
		this.#search = new TraceSearchHooks(env, ctx, this.#store);
	}

	/** A live subscription (the WebSocket upgrade of GET /v1/traces/{id}/live, forwarded by the router). */
	override async fetch(request: Request): Promise<Response> {
		if (request.headers.get("upgrade")?.toLowerCase() !== "websocket") {
			return new Response("expected a WebSocket upgrade", { status: 426, headers: { upgrade: "websocket" } });
		}
		const address: TraceAddress = { tenant: request.headers.get(LIVE_TENANT_HEADER) ?? "", traceId: request.headers.get(LIVE_TRACE_HEADER) ?? "" };
		const frames = await this.#subscriptionStart(address);
		const [client, server] = Object.values(new WebSocketPair()) as [WebSocket, WebSocket];
		// Accepted only now, with the snapshot computed after the last await: every batch applied
		// after this point reaches the socket as a delta, and none before it does (no gap, no overlap).
		this.#live.accept(server, frames.frames);
		if (frames.close) server.close(1000, "trace merged into another");
		const offered = request.headers.get("sec-websocket-protocol")?.split(",").map((p) => p.trim()) ?? [];
		const headers = offered.includes("bearer") ? { "sec-websocket-protocol": "bearer" } : undefined;
		return new Response(null, { status: 101, webSocket: client, headers });
	}

	override async webSocketMessage(): Promise<void> {
		// Subscribers only listen; whatever they send is ignored (pings are answered by the runtime).
	}

	override async webSocketClose(socket: WebSocket, code: number, reason: string): Promise<void> {
		try {
			socket.close(code, reason);
		} catch {
			// The runtime already completed the close handshake.
		}
	}

	async #subscriptionStart(address: TraceAddress): Promise<{ frames: string[]; close: boolean }> {
		const merged = this.#mergedInto;
		if (merged) return { frames: [redirectFrame(merged.intoTraceId)], close: true };
		// A finalization that completes while R2 is read would drop pending spans the read did
		// not see yet: read again until no write happened in between.
		let stored;
		let generation;
		do {
			generation = this.#store.writeGeneration;
			stored = await this.#readStored(address);
		} while (generation !== this.#store.writeGeneration);
		if (stored?.redirect && this.#store.pending.length === 0) return { frames: [redirectFrame(stored.redirect.intoTraceId)], close: true };
		const pending = this.#store.pending;
		const status: TraceStatus = pending.length > 0 ? "partial" : stored?.trace ? "complete" : "waiting";
		const frames = snapshotFrames(status, assembleChunks(stored?.trace, pending, SNAPSHOT_CHUNK_BYTES));
		if (status === "complete") frames.push(finalizedFrame(stored!.spanCount, traceKey(address)));
		return { frames, close: false };
	}

	/** Stores a TracesData of this trace's spans; resolves once they are durable. */
	async ingest(address: TraceAddress, batch: Uint8Array): Promise<IngestResult> {
		this.#remember(address);
		const incoming: IncomingSpan[] = [];
		forEachSpan(batch, (resourceHead, scopeHead, body) => {
			incoming.push({ resourceHead, scopeHead, body, identity: spanIdentity(body) });
		});
		const { added, dropped } = this.#accept(incoming);
		if (added.length > 0 && !this.#mergedInto) {
			for (const span of added) {
				const candidate = detectStitch(span, this.#stitchOptions);
				if (candidate) this.#considerStitch(candidate);
			}
		}
		if (this.#mergedInto) await this.#moveToParentOrRetry();
		return {
			accepted: added.length,
			duplicates: incoming.length - added.length - dropped,
			rejected: dropped,
			rejectReason: dropped > 0 ? this.#limitReason() : undefined,
			...(this.#mergedInto ? { mergedInto: this.#mergedInto } : {}),
		};
	}

	/** An explicit hint (POST /v1/stitch): this trace joins `candidate.parentTraceId`. */
	async stitch(address: TraceAddress, candidate: StitchCandidate): Promise<StitchResult> {
		this.#remember(address);
		const merged = this.#mergedInto;
		if (merged && merged.intoTraceId !== candidate.parentTraceId) {
			return { status: "refused", reason: `trace already merged into ${merged.intoTraceId}` };
		}
		if (!merged) this.#considerStitch(candidate);
		if (!this.#mergedInto) {
			const refusal = this.#refusals.find((r) => r.intoTraceId === candidate.parentTraceId);
			return { status: "refused", reason: refusal?.reason ?? "refused" };
		}
		await this.#moveToParentOrRetry();
		const after = this.#mergedInto;
		if (after) return { status: "merged", into: after.intoTraceId };
		return { status: "refused", reason: this.#refusals.at(-1)?.reason ?? "refused" };
	}

	/** Takes in another trace's spans (rewritten into this trace), or passes them on up the chain. */
	async adopt(address: TraceAddress, message: AdoptMessage): Promise<AdoptResult> {
		this.#remember(address);
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
		const merged = this.#mergedInto;
		if (merged) {
			// This trace itself joined another: the spans go on to where this one went.
			return this.#parentStub(merged).adopt(this.#parentAddress(merged), {
				fromTraceId: address.traceId,
				parentSpanId: merged.parentSpanId,
				path: [...message.path, address.traceId],
				merges: [...message.merges, merged],
				batch: moved,
			});
		}
		const incoming: IncomingSpan[] = [];
		forEachSpan(moved, (resourceHead, scopeHead, body) => incoming.push({ resourceHead, scopeHead, body, identity: spanIdentity(body) }));
		this.#accept(incoming);
		this.#recordMerges(message.merges);
		return { ok: true };
	}

	/** The trace this one was merged into, if the object knows (R2 metadata knows after retention). */
	async mergedInto(): Promise<string | undefined> {
		return this.#mergedInto?.intoTraceId;
	}

	/** What a reader should see now. */
	async view(address: TraceAddress): Promise<TraceView> {
		const merged = this.#mergedInto;
		if (merged) return { state: "merged", into: merged.intoTraceId };
		if (this.#store.pending.length === 0) {
			return this.#store.meta<Finalized>("finalized") ? { state: "complete", key: traceKey(address) } : { state: "unknown" };
		}
		const stored = await this.#readStored(address);
		return {
			state: "partial",
			trace: assembleTrace(stored?.trace, this.#store.pending),
			merged: this.#merges,
			refused: this.#refusals,
			droppedSpans: this.#store.meta<number>("droppedSpans") ?? 0,
		};
	}

	override async alarm(): Promise<void> {
		const address = this.#address;
		if (!address) return;
		if (this.#mergedInto) {
			if (this.#store.pending.length > 0 || !this.#store.meta<boolean>("movedStored")) {
				await this.#moveToParentOrRetry();
				return;
			}
		} else if (this.#store.pending.length > 0) {
			await this.#finalize(address);
			return;
		}
		// Search: an index write that failed after finalization or merge, retried with the same backoff.
		if (this.#search.retryDue) {
			if (!(await this.#search.retry(address))) {
				await this.#retryLater("search index write", "partition unavailable");
				return;
			}
			this.#store.setMeta("failedAttempts", undefined);
		}
		const doneAt = this.#store.meta<Finalized>("finalized")?.at ?? this.#store.meta<MergeRecord & { at: number }>("mergedInto")?.at ?? 0;
		if (Date.now() >= doneAt + this.#config.retentionMs) {
			// R2 holds the trace (or its redirect): a late span after this starts afresh and merges
			// with R2's copy.
			await this.ctx.storage.deleteAlarm();
			await this.ctx.storage.deleteAll();
			this.#store.reset();
		} else {
			await this.ctx.storage.setAlarm(doneAt + this.#config.retentionMs);
		}
	}

	// --- accepting spans ---------------------------------------------------------------------

	#accept(incoming: readonly IncomingSpan[]): { added: Uint8Array[]; dropped: number } {
		const wasIdle = this.#store.pending.length === 0;
		const { maxSpansPerTrace, maxTraceBytes } = this.#config;
		const storedBytes = this.#store.meta<number>("storedBytes") ?? 0;
		const { added, dropped } = this.#store.add(incoming, {
			spans: maxSpansPerTrace - this.#store.knownCount,
			bytes: maxTraceBytes - storedBytes - this.#store.pendingBytes,
		});
		if (dropped > 0) {
			// Never silently partial: the count reaches R2 metadata, the read API and the exporter.
			this.#store.setMeta("droppedSpans", (this.#store.meta<number>("droppedSpans") ?? 0) + dropped);
			console.warn(`TraceAssembler ${this.#address?.traceId}: dropped ${dropped} spans: ${this.#limitReason()}`);
		}
		if (added.length > 0 && this.#live.any) {
			const frames = [spansFrame(assembleTrace(undefined, added))];
			if (wasIdle && this.#store.meta<Finalized>("finalized")) frames.unshift(reopenedFrame());
			this.#live.broadcast(...frames);
		}
		// Search (a): the first accepted span writes an open index entry, after the reply.
		if (added.length > 0 && !this.#mergedInto) this.#search.opened(this.#address!, added);
		if (added.length > 0 && !this.#mergedInto) {
			const now = Date.now();
			if (wasIdle) this.#store.setMeta("firstPendingAt", now);
			this.#scheduleFinalize(now);
		}
		return { added: added.map((span) => span.body), dropped };
	}

	#limitReason(): string {
		const { maxSpansPerTrace, maxTraceBytes } = this.#config;
		return `trace ${this.#address?.traceId} reached its limit (MAX_SPANS_PER_TRACE ${maxSpansPerTrace}, MAX_TRACE_BYTES ${maxTraceBytes})`;
	}

	// --- finalizing to R2 ----------------------------------------------------------------------

	async #finalize(address: TraceAddress): Promise<void> {
		const upTo = this.#store.lastSeq;
		const key = traceKey(address);
		let spanCount: number;
		let storedBytes: number;
		let written: Uint8Array;
		try {
			// Requests interleave with these awaits: spans that arrive meanwhile get a higher seq,
			// stay pending, and are written next time.
			const stored = await this.#readStored(address);
			if (stored?.redirect) {
				// This object forgot that its trace had joined another; R2 remembers.
				this.#store.setMeta("mergedInto", { ...stored.redirect, at: Date.now() });
				this.#store.setMeta("movedStored", true);
				await this.#moveToParentOrRetry();
				return;
			}
			const trace = assembleTrace(stored?.trace, this.#store.pending.filter((span) => span.seq <= upTo));
			const summary = summarizeTrace(trace);
			spanCount = summary.spanCount;
			storedBytes = trace.length;
			written = trace;
			await this.env.TRACES.put(key, trace, {
				httpMetadata: { contentType: "application/x-protobuf" },
				customMetadata: summaryMetadata(summary, address.traceId, this.#merges, this.#refusals, this.#store.meta<number>("droppedSpans") ?? 0),
			});
		} catch (e) {
			await this.#retryLater(`R2 write of ${key}`, e);
			return;
		}
		const now = Date.now();
		this.#store.markWritten(upTo);
		this.#store.setMeta("finalized", { at: now, spanCount } satisfies Finalized);
		this.#store.setMeta("storedBytes", storedBytes);
		this.#store.setMeta("failedAttempts", undefined);
		if (this.#store.pending.length > 0) {
			// Spans came during the write: the trace is still open, and the next write says "finalized".
			this.#store.setMeta("firstPendingAt", now);
			this.#scheduleFinalize(now);
		} else {
			this.#store.setMeta("firstPendingAt", undefined);
			this.ctx.storage.setAlarm(now + this.#config.retentionMs);
			this.#live.broadcast(finalizedFrame(spanCount, key));
		}
		// Search (b): the finalized trace replaces its index entry. A failure is retried by the alarm
		// (unless spans are pending: their finalization writes a newer entry anyway).
		if (!(await this.#search.finalized(address, written, now)) && this.#store.pending.length === 0) {
			await this.#retryLater("search index write", "partition unavailable");
		}
	}

	/** Finalize after the quiet period, or at the trace's age limit, but not sooner than R2 allows. */
	#scheduleFinalize(now: number): void {
		const { quietPeriodMs, maxTraceAgeMs, minRewriteIntervalMs } = this.#config;
		const firstPendingAt = this.#store.meta<number>("firstPendingAt") ?? now;
		let at = Math.min(now + quietPeriodMs, firstPendingAt + maxTraceAgeMs);
		const lastWrite = this.#store.meta<Finalized>("finalized")?.at;
		if (lastWrite !== undefined) at = Math.max(at, lastWrite + minRewriteIntervalMs);
		// Not awaited: storage writes from one event are committed together before the reply leaves.
		this.ctx.storage.setAlarm(at);
	}

	/** Our own backoff instead of throwing: the platform gives up after six alarm retries. */
	async #retryLater(what: string, error: unknown): Promise<void> {
		const attempts = (this.#store.meta<number>("failedAttempts") ?? 0) + 1;
		const delay = Math.min(2_000 * 2 ** (attempts - 1), MAX_RETRY_DELAY_MS);
		console.error(`TraceAssembler ${this.#address?.traceId}: ${what} failed (attempt ${attempts}), retrying in ${delay} ms:`, error);
		this.#store.setMeta("failedAttempts", attempts);
		await this.ctx.storage.setAlarm(Date.now() + delay);
	}

	/** The trace R2 holds under this trace's key: a TracesData, or a redirect left by a merge. */
	async #readStored(address: TraceAddress): Promise<{ trace?: Uint8Array; spanCount: number; redirect?: MergeRecord } | undefined> {
		const object = await this.env.TRACES.get(traceKey(address));
		if (!object) return undefined;
		const redirect = object.customMetadata?.mergedInto;
		if (redirect) {
			const meta = object.customMetadata!;
			await object.body.cancel();
			return { spanCount: 0, redirect: { traceId: address.traceId, intoTraceId: redirect, parentSpanId: meta.parentSpanId ?? "", rule: (meta.rule ?? "hint") as MergeRecord["rule"] } };
		}
		return { trace: new Uint8Array(await object.arrayBuffer()), spanCount: Number(object.customMetadata?.spanCount ?? 0) };
	}

	// --- merging into the parent trace ---------------------------------------------------------

	/** Records a merge into `candidate`'s trace unless it would be a self-reference or a conflict. */
	#considerStitch(candidate: StitchCandidate): void {
		const address = this.#address!;
		if (candidate.parentTraceId === address.traceId) return;
		if (this.#refusals.some((r) => r.intoTraceId === candidate.parentTraceId)) return;
		const merged = this.#mergedInto;
		if (merged) {
			if (merged.intoTraceId !== candidate.parentTraceId) {
				this.#refuse(candidate.parentTraceId, `conflicts with the merge into ${merged.intoTraceId}`);
			}
			return;
		}
		const record: MergeRecord & { at: number } = {
			traceId: address.traceId,
			intoTraceId: candidate.parentTraceId,
			parentSpanId: candidate.parentSpanId,
			rule: candidate.rule,
			at: Date.now(),
		};
		// Recorded first, so a crash before the move is resumed by the alarm (an outbox).
		this.#store.setMeta("mergedInto", record);
		this.#store.setMeta("movedStored", false);
		this.ctx.storage.setAlarm(Date.now() + OUTBOX_RETRY_MS);
	}

	/** Moves this trace's spans to the parent; on failure the alarm retries (they stay stored here). */
	#moveToParentOrRetry(): Promise<void> {
		this.#moving = this.#moving.then(async () => {
			try {
				await this.#moveToParent();
				this.#store.setMeta("failedAttempts", undefined);
			} catch (e) {
				await this.#retryLater("moving spans to the parent trace", e);
			}
		});
		return this.#moving;
	}

	async #moveToParent(): Promise<void> {
		const merged = this.#mergedInto;
		const address = this.#address;
		if (!merged || !address) return;
		const upTo = this.#store.lastSeq;
		const movedStored = this.#store.meta<boolean>("movedStored") ?? false;
		const stored = movedStored ? undefined : await this.#readStored(address);
		const pending = this.#store.pending.filter((span) => span.seq <= upTo);
		if (stored?.trace || pending.length > 0) {
			const parent = this.#parentStub(merged);
			for (const batch of assembleChunks(stored?.trace, pending, MOVE_CHUNK_BYTES)) {
				const result = await parent.adopt(this.#parentAddress(merged), {
					fromTraceId: address.traceId,
					parentSpanId: merged.parentSpanId,
					path: [address.traceId],
					merges: [...this.#merges, merged],
					batch,
				});
				if (!result.ok) {
					this.#unmerge(result.reason);
					return;
				}
			}
		}
		this.#store.markWritten(upTo);
		if (!movedStored) {
			// Replaces this trace's own R2 object (if any): it now lives in the parent's, and a read of
			// this id, or a late span after this object forgot, finds the way there.
			await this.env.TRACES.put(traceKey(address), new Uint8Array(0), {
				customMetadata: { traceId: address.traceId, mergedInto: merged.intoTraceId, parentSpanId: merged.parentSpanId, rule: merged.rule },
			});
			this.#store.setMeta("movedStored", true);
			this.#live.broadcast(redirectFrame(merged.intoTraceId));
			this.#live.closeAll("trace merged into another");
		}
		if (this.#store.pending.length === 0) this.ctx.storage.setAlarm(Date.now() + this.#config.retentionMs);
		// Search (c): this trace now lives in the parent's entry; its own becomes a tombstone.
		if (!(await this.#search.merged(address))) await this.#retryLater("search tombstone write", "partition unavailable");
	}

	/** The parent refused (a cycle): this trace stays on its own, and says so. */
	#unmerge(reason: string): void {
		const merged = this.#mergedInto!;
		console.warn(`TraceAssembler ${merged.traceId}: merge into ${merged.intoTraceId} refused: ${reason}`);
		this.#store.setMeta("mergedInto", undefined);
		this.#store.setMeta("movedStored", undefined);
		this.#refuse(merged.intoTraceId, reason);
		if (this.#store.pending.length > 0) {
			const now = Date.now();
			this.#store.setMeta("firstPendingAt", now);
			this.#scheduleFinalize(now);
		}
	}

	#refuse(intoTraceId: string, reason: string): void {
		this.#store.setMeta("refused", [...this.#refusals, { intoTraceId, reason }].slice(-20));
	}

	#recordMerges(records: readonly MergeRecord[]): void {
		const known = new Map(this.#merges.map((m) => [m.traceId, m]));
		let changed = false;
		for (const record of records) {
			if (!known.has(record.traceId)) {
				known.set(record.traceId, { traceId: record.traceId, intoTraceId: record.intoTraceId, parentSpanId: record.parentSpanId, rule: record.rule });
				this.#live.broadcast(mergedFrame(record.traceId, record.rule));
				changed = true;
			}
		}
		if (changed) this.#store.setMeta("merges", [...known.values()]);
	}

	#parentAddress(merged: MergeRecord): TraceAddress {
		return { tenant: this.#address!.tenant, traceId: merged.intoTraceId };
	}

	#parentStub(merged: MergeRecord) {
		return this.env.TRACE_ASSEMBLER.getByName(objectName(this.#parentAddress(merged)));
	}

	// --- state -----------------------------------------------------------------------------------

	get #address(): TraceAddress | undefined {
		return this.#store.meta<TraceAddress>("address");
	}

	get #mergedInto(): MergeRecord | undefined {
		return this.#store.meta<MergeRecord>("mergedInto");
	}

	get #merges(): MergeRecord[] {
		return this.#store.meta<MergeRecord[]>("merges") ?? [];
	}

	get #refusals(): Refusal[] {
		return this.#store.meta<Refusal[]>("refused") ?? [];
	}

	#remember(address: TraceAddress): void {
		const known = this.#address;
		if (!known || known.tenant !== address.tenant || known.traceId !== address.traceId) this.#store.setMeta("address", address);
	}
}
