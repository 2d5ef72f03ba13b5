// The lifecycle floor for `npm run bench`: the design floor (design-floor.ts: split by trace id,
// one object call and one INSERT per trace part) plus what every trace's life cannot avoid in this
// architecture, finalizing during the run as the assembler does: per trace one alarm (set once,
// moved only when it fires before the quiet period after the last part is over), one R2 write of
// its parts as one TracesData, and one index row (an RPC to an index object that INSERTs it). No
// de-duplication, limits, live deltas, stitching, open index entries or merges: the assembler's
// ingest, finalizing as it goes, is reported as a share of this (the headline ratio).
import { DurableObject } from "cloudflare:workers";
import { runLimited } from "../../src/http/pool";
import { readBody, requestEncoding } from "../../src/ingest/body";
import { splitRequest } from "../../src/ingest/split";
import { exportResponse } from "../../src/otlp/responses";

interface FloorEnv {
	LIFECYCLE_TRACE: DurableObjectNamespace<LifecycleTrace>;
	LIFECYCLE_INDEX: DurableObjectNamespace<LifecycleIndex>;
	TRACES: R2Bucket;
	/** The assembler's quiet period under the bench (QUIET_MS in scripts/bench.ts). */
	QUIET_PERIOD_MS?: string;
}

/** Index objects the floor spreads its rows over, as the search index spreads entries over shards. */
const INDEX_SHARDS = 4;

export class LifecycleTrace extends DurableObject<FloorEnv> {
	#ready = false;
	#alarmAt: number | null = null;
	#lastArrival = 0;
	#writtenUpTo = 0;

	async store(traceId: string, part: Uint8Array): Promise<void> {
		const sql = this.ctx.storage.sql;
		if (!this.#ready) {
			sql.exec("CREATE TABLE IF NOT EXISTS parts (seq INTEGER PRIMARY KEY, arrived_at INTEGER NOT NULL, spans BLOB, trace_id TEXT)");
			this.#ready = true;
		}
		const now = Date.now();
		sql.exec("INSERT INTO parts (arrived_at, spans, trace_id) VALUES (?, ?, ?)", now, part, traceId);
		this.#lastArrival = now;
		if (this.#alarmAt === null) {
			this.#alarmAt = now + this.#quietMs();
			void this.ctx.storage.setAlarm(this.#alarmAt);
		}
	}

	override async alarm(): Promise<void> {
		const due = this.#lastArrival + this.#quietMs();
		if (Date.now() < due) {
			// Parts came after the alarm was set: the quiet period slides, as the assembler's does.
			this.#alarmAt = due;
			await this.ctx.storage.setAlarm(due);
			return;
		}
		this.#alarmAt = null;
		const rows = this.ctx.storage.sql.exec<{ seq: number; spans: ArrayBuffer; trace_id: string }>("SELECT seq, spans, trace_id FROM parts WHERE seq > ?", this.#writtenUpTo).toArray();
		if (rows.length === 0) return;
		// Concatenated TracesData encodings are one TracesData (repeated fields append): the parts as one object.
		let size = 0;
		for (const row of rows) size += row.spans.byteLength;
		const trace = new Uint8Array(size);
		let at = 0;
		for (const row of rows) {
			trace.set(new Uint8Array(row.spans), at);
			at += row.spans.byteLength;
		}
		const traceId = rows[0]!.trace_id;
		await this.env.TRACES.put(`lifecycle/${traceId}.binpb`, trace);
		this.#writtenUpTo = rows.at(-1)!.seq;
		const shard = parseInt(traceId.slice(0, 4), 16) % INDEX_SHARDS;
		await this.env.LIFECYCLE_INDEX.getByName(`shard-${shard}`).add(traceId, rows.length, Date.now());
	}

	#quietMs(): number {
		return Number(this.env.QUIET_PERIOD_MS ?? "1000");
	}
}

export class LifecycleIndex extends DurableObject<FloorEnv> {
	#ready = false;

	async add(traceId: string, parts: number, finalizedAt: number): Promise<void> {
		const sql = this.ctx.storage.sql;
		if (!this.#ready) {
			sql.exec("CREATE TABLE IF NOT EXISTS entries (trace_id TEXT PRIMARY KEY, parts INTEGER NOT NULL, finalized_at INTEGER NOT NULL)");
			this.#ready = true;
		}
		sql.exec("INSERT INTO entries (trace_id, parts, finalized_at) VALUES (?, ?, ?) ON CONFLICT (trace_id) DO UPDATE SET parts = excluded.parts, finalized_at = excluded.finalized_at", traceId, parts, finalizedAt);
	}

	async count(): Promise<number> {
		// Asked of a fresh instance too (the object was evicted between runs): storage says, not #ready.
		const sql = this.ctx.storage.sql;
		if (sql.exec("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'entries'").toArray().length === 0) return 0;
		return sql.exec<{ n: number }>("SELECT count(*) AS n FROM entries").one().n;
	}
}

export default {
	async fetch(request, env) {
		const url = new URL(request.url);
		if (url.pathname === "/floor/indexed") {
			let total = 0;
			for (let shard = 0; shard < INDEX_SHARDS; shard++) total += await env.LIFECYCLE_INDEX.getByName(`shard-${shard}`).count();
			return Response.json({ indexed: total });
		}
		const encoding = requestEncoding(request);
		const body = await readBody(request, 8 * 1024 * 1024);
		const split = splitRequest(body, encoding);
		const failures = await runLimited(split.parts, 16, async ([traceId, part]) => {
			await env.LIFECYCLE_TRACE.getByName(traceId).store(traceId, part.finish());
		});
		if (failures.length > 0) return new Response(String(failures[0]), { status: 503 });
		return exportResponse(encoding, split.rejected, "");
	},
} satisfies ExportedHandler<FloorEnv>;
