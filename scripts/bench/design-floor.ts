// The design floor for `npm run bench`: a Worker and a Durable Object class doing only what this
// architecture cannot avoid. The Worker reads and splits the export request by trace id and calls
// each trace's object once with its part; the object INSERTs the part as one row and sets an alarm
// once. No de-duplication, limits, live deltas, stitching or finalization: the assembler's ingest
// is reported as a share of this.
import { DurableObject } from "cloudflare:workers";
import { runLimited } from "../../src/http/pool";
import { readBody, requestEncoding } from "../../src/ingest/body";
import { splitRequest } from "../../src/ingest/split";
import { exportResponse } from "../../src/otlp/responses";

interface FloorEnv {
	FLOOR_TRACE: DurableObjectNamespace<FloorTrace>;
}

export class FloorTrace extends DurableObject<FloorEnv> {
	#ready = false;
	#alarmSet = false;

	async store(part: Uint8Array): Promise<void> {
		const sql = this.ctx.storage.sql;
		if (!this.#ready) {
			sql.exec("CREATE TABLE IF NOT EXISTS parts (seq INTEGER PRIMARY KEY, arrived_at INTEGER NOT NULL, spans BLOB NOT NULL)");
			this.#ready = true;
		}
		sql.exec("INSERT INTO parts (arrived_at, spans) VALUES (?, ?)", Date.now(), part);
		if (!this.#alarmSet) {
			this.#alarmSet = true;
			void this.ctx.storage.setAlarm(Date.now() + 3_600_000);
		}
	}

	override async alarm(): Promise<void> {
		// The floor never finalizes: its alarm only has to exist.
	}
}

export default {
	async fetch(request, env) {
		const encoding = requestEncoding(request);
		const body = await readBody(request, 8 * 1024 * 1024);
		const split = splitRequest(body, encoding);
		const failures = await runLimited(split.parts, 16, async ([traceId, part]) => {
			await env.FLOOR_TRACE.getByName(traceId).store(part.finish());
		});
		if (failures.length > 0) return new Response(String(failures[0]), { status: 503 });
		return exportResponse(encoding, split.rejected, "");
	},
} satisfies ExportedHandler<FloorEnv>;
