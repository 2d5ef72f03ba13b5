// What a trace object does for forwarding at each finalization, before its R2 write:
//   1. the decision: the one recorded in the object's state, else the one in R2's metadata (the
//      object forgot after RETENTION_MS), else made now by the rules on the whole merged trace;
//   2. the spans to send: the whole trace when the decision is new; afterwards only the parts
//      not judged before (seq above the recorded `upTo`) and not already in R2's copy;
//   3. for a kept trace, those spans on the queue — before the R2 write, so that a failed send is
//      retried with the whole finalization and nothing was recorded yet;
//   4. the decision goes into the R2 metadata the write makes anyway, whose written mark also
//      bounds what was judged; only a trace not written to R2 (dropped under STORE_TRACES=sampled)
//      keeps the decision and `upTo` in its state row.
// When the R2 write fails after the send, `writeFailed` records the send in the state row so the
// retry does not repeat it. The one window for a duplicate from this side: a crash after `send`
// resolved and before the R2 write (or that state row) lands: the alarm re-runs the finalization
// and sends again.
import type { Config } from "../config";
import type { Env } from "../env";
import { spanIdentity } from "../otlp/span-facts";
import { forEachSpan } from "../otlp/wire";
import { buildEntry } from "../search/entry";
import type { TraceAddress } from "../trace-address";
import { bytesKey } from "../assembler/bytes-key";
import { destinationsFor, forwardingOn } from "./config";
import { decisionFromMetadata, decisionMetadata, type ForwardState } from "./decision";
import { enqueueSpans } from "./producer";
import { decide, type Decision } from "./rules";
import { spansOf, type HeldSpan } from "./stamp";
import { addCounters, ruleCounter } from "./stats";

export interface ForwardStateStore {
	readonly state: Readonly<ForwardState>;
	saveState(changes: ForwardState): void;
}

export interface PendingPart extends HeldSpan {
	readonly seq: number;
}

/** What the finalization's R2 write and state row take from forwarding. */
export interface WritePlan {
	metadata: Record<string, string>;
	/** False for a dropped trace under STORE_TRACES=sampled: no R2 write, no index entry. */
	store: boolean;
	state: ForwardState;
	decision?: Decision;
}

const NOTHING: WritePlan = { metadata: {}, store: true, state: {} };

export class TraceForwarding {
	readonly #env: Env;
	readonly #ctx: DurableObjectState;
	readonly #config: Config;
	readonly #store: ForwardStateStore;
	/** Set between a successful send and the write that records it. */
	#sent: ForwardState | undefined;
	/** The decision last made or recalled here (a cache: storage or R2 metadata holds it). */
	#decision: Decision | undefined;

	constructor(env: Env, ctx: DurableObjectState, config: Config, store: ForwardStateStore) {
		this.#env = env;
		this.#ctx = ctx;
		this.#config = config;
		this.#store = store;
	}

	/** The decision this object knows (for the read API and the viewer). */
	get decision(): Decision | undefined {
		return this.#store.state.forward?.decision ?? this.#decision;
	}

	/**
	 * Steps 1-3 for a finalization that writes `trace` (R2's copy `stored` merged with the parts up
	 * to `upTo`, `pending`). Throws when the queue refused: nothing is recorded, the caller retries.
	 */
	async beforeWrite(address: TraceAddress, stored: { trace?: Uint8Array; metadata?: Record<string, string> } | undefined, trace: Uint8Array, pending: readonly PendingPart[], upTo: number): Promise<WritePlan> {
		const config = this.#config.forward;
		if (!forwardingOn(config)) return NOTHING;
		this.#sent = undefined;
		const known = this.#store.state.forward;
		let decision = known?.decision ?? decisionFromMetadata(stored?.metadata);
		let toSend: readonly HeldSpan[] = [];
		const fresh = decision === undefined;
		if (decision === undefined) {
			decision = decide(config.rules, buildEntry(address.traceId, trace));
			if (decision.kept) toSend = spansOf(trace);
		} else if (decision.kept) {
			toSend = newSpans(pending, known?.upTo ?? 0, stored?.trace);
		}
		const destinations = destinationsFor(config, address.tenant);
		if (decision.kept && toSend.length > 0 && destinations.length > 0) {
			try {
				await enqueueSpans(this.#env, address, destinations, decision, toSend, upTo, config.maxBytes);
			} catch (e) {
				// Logged by the finalization's retry with this cause; nothing was recorded as sent.
				throw new Error(`forwarding queue refused ${toSend.length} spans: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
			}
		}
		const state: ForwardState = { forward: { decision, upTo } };
		this.#sent = state;
		this.#decision = decision;
		if (fresh) this.#ctx.waitUntil(addCounters(this.#env, address.tenant, address.traceId, { [ruleCounter(decision.rule, decision.kept)]: 1 }));
		const store = decision.kept || config.storeTraces === "all";
		// Written to R2, the decision rides in its metadata and R2's written mark bounds what was
		// judged (a restart recalls both from there): no state row. Not written (a dropped trace under
		// STORE_TRACES=sampled), only the state row can keep it.
		return { metadata: decisionMetadata(decision), store, state: store ? {} : state, decision };
	}

	/** The R2 write after `beforeWrite` failed: record what was judged and sent, so the retry does not send it again. */
	writeFailed(): void {
		if (this.#sent) this.#store.saveState(this.#sent);
		this.#sent = undefined;
	}

	/** The finalization's write (R2 and, when needed, the state row with `plan.state`) is recorded. */
	written(): void {
		this.#sent = undefined;
	}
}

/** Parts after `judgedUpTo`, less any span R2's copy already holds (an exporter's retry after the object forgot). */
function newSpans(pending: readonly PendingPart[], judgedUpTo: number, stored: Uint8Array | undefined): HeldSpan[] {
	const fresh = pending.filter((span) => span.seq > judgedUpTo);
	if (fresh.length === 0 || !stored) return fresh;
	const inR2 = new Set<string>();
	forEachSpan(stored, (_resource, _scope, body) => inR2.add(bytesKey(spanIdentity(body))));
	return fresh.filter((span) => !inR2.has(bytesKey(spanIdentity(span.body))));
}
