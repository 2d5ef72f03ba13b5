// One Durable Object per trace: it stores the trace's parts as they arrive, finalizes the trace to
// R2 after a quiet period, reopens it when late spans come, and merges it into its caller's trace
// when propagated context says where it belongs. This class is the entry point only: each concern
// lives in its own module (ingest, finalize, merge, retention, live-subscriptions, view), over one
// PartStore and one AlarmClock.
import { DurableObject } from "cloudflare:workers";
import { loadConfig } from "../config";
import type { Env } from "../env";
import { MAX_LIVE_SUBSCRIBERS, Subscribers } from "../live/subscribers";
import { errorResponse } from "../http/respond";
import { AssemblerError } from "../errors";
import { countUsage, enableUsageCounting } from "../metering/usage";
import type { StitchCandidate } from "../stitch/detect";
import type { TraceAddress } from "../trace-address";
import { AlarmClock } from "./alarm-clock";
import type { TraceContext } from "./context";
import { Finalizer } from "./finalize";
import { Intake } from "./ingest";
import { subscriptionFrames } from "./live-subscriptions";
import { MergeOutbox } from "./merge";
import { PartStore } from "./part-store";
import { TraceSearchHooks } from "../search/trace-hooks";
import { TraceForwarding } from "../forward/trace-hook";
import type { TraceEntry } from "../search/entry";
import { Retention } from "./retention";
import { catchUpWithR2 } from "./stored-trace";
import type { AdoptMessage, AdoptResult, IngestResult, StitchResult, TraceView } from "./types";
import { traceView } from "./view";

export type { AdoptMessage, AdoptResult, IngestResult, MergeRecord, Refusal, StitchResult, TraceView } from "./types";

/** The router names the trace of a live subscription in these headers (objects are not public). */
export const LIVE_TENANT_HEADER = "x-assembler-tenant";
export const LIVE_TRACE_HEADER = "x-assembler-trace-id";

export class TraceAssembler extends DurableObject<Env> {
	readonly #t: TraceContext;
	readonly #intake: Intake;
	readonly #finalizer: Finalizer;
	readonly #merge: MergeOutbox;
	readonly #retention: Retention;

	constructor(ctx: DurableObjectState, env: Env) {
		super(ctx, env);
		enableUsageCounting(env);
		// SQLite calls are synchronous, so the parts load here; the alarm's time (for an object with
		// storage) loads under blockConcurrencyWhile (AlarmClock) before any request runs.
		const store = new PartStore(ctx.storage.sql);
		const config = loadConfig(env);
		this.#t = { ctx, env, config, store, clock: new AlarmClock(ctx, store.stored), live: new Subscribers(ctx), search: new TraceSearchHooks(env, ctx, store), forward: new TraceForwarding(env, ctx, config, store) };
		this.#finalizer = new Finalizer(this.#t, () => this.#merge);
		this.#merge = new MergeOutbox(this.#t, this.#finalizer);
		this.#intake = new Intake(this.#t, this.#finalizer, this.#merge);
		this.#retention = new Retention(this.#t);
		// What was written to R2 is recorded in R2's metadata, not in a row: read it back first.
		if (store.pending.length > 0) void ctx.blockConcurrencyWhile(() => catchUpWithR2(env, store));
	}

	/** A live subscription (the WebSocket upgrade of GET /v1/traces/{id}/live, forwarded by the router). */
	override async fetch(request: Request): Promise<Response> {
		countUsage("objectCalls");
		if (request.headers.get("upgrade")?.toLowerCase() !== "websocket") {
			return new Response("expected a WebSocket upgrade", { status: 426, headers: { upgrade: "websocket" } });
		}
		if (this.#t.live.count >= MAX_LIVE_SUBSCRIBERS) {
			return errorResponse(new AssemblerError("overloaded", `this trace has ${MAX_LIVE_SUBSCRIBERS} live subscribers already (the limit per trace); close one or retry later`, 30));
		}
		const address: TraceAddress = { tenant: request.headers.get(LIVE_TENANT_HEADER) ?? "", traceId: request.headers.get(LIVE_TRACE_HEADER) ?? "" };
		const frames = await subscriptionFrames(this.#t, address);
		const [client, server] = Object.values(new WebSocketPair()) as [WebSocket, WebSocket];
		// Accepted only now, with the snapshot computed after the last await: every batch applied
		// after this point reaches the socket as a delta, and none before it does (no gap, no overlap).
		this.#t.live.accept(server, frames.frames);
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

	/** Stores a TracesData of this trace's spans; resolves once they are durable. */
	async ingest(address: TraceAddress, batch: Uint8Array): Promise<IngestResult> {
		countUsage("objectCalls");
		return this.#intake.ingest(address, batch);
	}

	/** An explicit hint (POST /v1/stitch): this trace joins `candidate.parentTraceId`. */
	async stitch(address: TraceAddress, candidate: StitchCandidate): Promise<StitchResult> {
		countUsage("objectCalls");
		return this.#merge.stitch(address, candidate);
	}

	/** Takes in another trace's spans (rewritten into this trace), or passes them on up the chain. */
	async adopt(address: TraceAddress, message: AdoptMessage): Promise<AdoptResult> {
		countUsage("objectCalls");
		const result = await this.#merge.adopt(address, message);
		if (!("incoming" in result)) return result;
		await this.#intake.accept(address, result.incoming);
		this.#merge.recordMerges(message.merges);
		return { ok: true };
	}

	/** Whether this trace holds span `originTraceId`/`spanId` (verifying an outside caller's claim, TAIL_STITCH_EXTERNAL). */
	async hasSpan(address: TraceAddress, originTraceId: string, spanId: string, hops: number): Promise<boolean> {
		countUsage("objectCalls");
		return this.#merge.holdsSpan(address, originTraceId, spanId, hops);
	}

	/** The trace this one was merged into, if the object knows (R2 metadata knows after retention). */
	async mergedInto(): Promise<string | undefined> {
		countUsage("objectCalls");
		return this.#merge.mergedInto?.intoTraceId;
	}

	/** Search: an open trace's entry from every span that arrived so far (src/search/search.ts re-checks open traces with it). */
	async searchEntry(address: TraceAddress): Promise<TraceEntry | undefined> {
		countUsage("objectCalls");
		return this.#t.search.currentEntry(address, this.#merge.mergedInto !== undefined);
	}

	/** What a reader should see now. */
	async view(address: TraceAddress): Promise<TraceView> {
		countUsage("objectCalls");
		return traceView(this.#t, address);
	}

	override async alarm(): Promise<void> {
		countUsage("alarmsRun");
		const scheduledAt = this.#t.clock.fired();
		const { store } = this.#t;
		const address = store.address;
		if (!address) {
			// Storage without a trace (a retention cut short after DROP TABLE): finish freeing it.
			await this.#retention.free();
			return;
		}
		if (this.#merge.mergedInto) {
			if (store.pending.length > 0 || !store.state.movedStored) {
				await this.#merge.moveToParentOrRetry();
				return;
			}
		} else if (store.pending.length > 0 && !this.#finalizer.givenUp) {
			await this.#finalizer.onAlarm(address, scheduledAt);
			return;
		}
		// Search: an index write that failed after finalization or merge, retried with the same backoff.
		if (this.#t.search.retryDue) {
			if (!(await this.#t.search.retry(address))) {
				await this.#finalizer.retryLater("search index write", "partition unavailable");
				return;
			}
		}
		await this.#retention.onAlarm();
	}
}
