// Retention: a finalized (or merged) trace's object keeps its parts, and so the identities of
// every span it stored, for RETENTION_MS, so exporter retries stay exactly-once; then it frees its
// storage in two steps that write no span row: DROP TABLE (the cursor counts 0 rows written,
// where DELETE counts every row) and deleteAll() on the emptied database, which also removes the
// alarm and leaves the object costing nothing. A late span after this starts afresh and merges
// with R2's copy.
import { countUsage } from "../metering/usage";
import type { TraceContext } from "./context";

export class Retention {
	readonly #t: TraceContext;

	constructor(context: TraceContext) {
		this.#t = context;
	}

	/** The alarm fired with nothing pending: free storage once the trace is old enough, else wait. */
	async onAlarm(): Promise<void> {
		const { store, config } = this.#t;
		// A write given up (finalize.ts) counts from when it was given up: its spans stay readable that long.
		const doneAt = Math.max(store.state.finalized?.at ?? store.state.mergedInto?.at ?? 0, store.state.unwritten?.at ?? 0);
		if (Date.now() >= doneAt + config.retentionMs) await this.free();
		else await this.#t.clock.set(doneAt + config.retentionMs);
	}

	async free(): Promise<void> {
		const { store, ctx, clock } = this.#t;
		store.dropTable();
		countUsage("deleteAlls");
		await ctx.storage.deleteAll();
		store.reset();
		clock.cleared();
	}
}
