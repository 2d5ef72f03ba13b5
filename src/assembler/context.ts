// What every part of the trace object shares: its platform handles, its configuration, its
// storage, its alarm and its live subscribers.
import type { Config } from "../config";
import type { Env } from "../env";
import type { Subscribers } from "../live/subscribers";
import type { AlarmClock } from "./alarm-clock";
import type { PartStore } from "./part-store";
import type { TraceSearchHooks } from "../search/trace-hooks";
import type { TraceForwarding } from "../forward/trace-hook";

export interface TraceContext {
	readonly ctx: DurableObjectState;
	readonly env: Env;
	readonly config: Config;
	readonly store: PartStore;
	readonly clock: AlarmClock;
	readonly live: Subscribers;
	/** Search index writes at three moments: first span, finalization, merge (src/search/trace-hooks.ts). */
	readonly search: TraceSearchHooks;
	/** Tail sampling and forwarding at each finalization (src/forward/trace-hook.ts). */
	readonly forward: TraceForwarding;
}
