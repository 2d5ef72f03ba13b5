// What the trace objects of a stopped `wrangler dev` hold in storage, read from its state
// directory (--persist-to): every span in every part row, by identity (original trace id + span
// id). Reads and R2 writes de-duplicate again, so a span stored twice is visible only here: the
// soak counts its duplicates with this, not by reading traces back.
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
// wire.ts imports nothing relative, so Node runs it as it is (the rest of src/ is bundler-style).
import { forEachSpan, inspectSpan, toHex } from "../../src/otlp/wire.ts";

export interface StoredParts {
	/** Trace objects with a parts table. */
	objects: number;
	/** Spans in part rows, duplicates included. */
	spans: number;
	/** Spans stored more than once in the same object (each extra copy counts one). */
	duplicated: number;
	/** Original trace id → span ids stored, once each. */
	byTrace: Map<string, Set<string>>;
}

/**
 * Reads every `<script>-TraceAssembler` object's part rows under `persistTo`. Stop the server
 * first. Identities are the spans' own trace and span ids: right for runs without merges (a span
 * merged in keeps its original trace id in an attribute, which this does not read).
 */
export function readStoredParts(persistTo: string): StoredParts {
	const result: StoredParts = { objects: 0, spans: 0, duplicated: 0, byTrace: new Map() };
	const root = join(persistTo, "v3", "do");
	for (const dir of readdirSync(root).filter((name) => name.endsWith("-TraceAssembler"))) {
		for (const file of readdirSync(join(root, dir)).filter((name) => name.endsWith(".sqlite"))) {
			const db = new DatabaseSync(join(root, dir, file), { readOnly: true });
			try {
				const hasParts = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'parts'").get();
				if (!hasParts) continue;
				result.objects++;
				const seen = new Set<string>();
				for (const row of db.prepare("SELECT spans FROM parts WHERE seq > 0 AND spans IS NOT NULL").all() as { spans: Uint8Array }[]) {
					forEachSpan(new Uint8Array(row.spans), (_resource, _scope, body) => {
						const ids = inspectSpan(body);
						if (typeof ids === "string") return;
						const identity = toHex(ids.traceId) + toHex(ids.spanId);
						result.spans++;
						if (seen.has(identity)) result.duplicated++;
						seen.add(identity);
						const traceId = identity.slice(0, 32);
						if (!result.byTrace.has(traceId)) result.byTrace.set(traceId, new Set());
						result.byTrace.get(traceId)!.add(identity.slice(32));
					});
				}
			} finally {
				db.close();
			}
		}
	}
	return result;
}
