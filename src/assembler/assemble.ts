// The union of a stored trace and newer spans, as TracesData. Used for every R2 write, for reads of
// an open trace and for moving a trace into another, so a trace that was finalized, forgotten and
// reopened still comes out whole and without duplicates.
import { forEachSpan, TracesDataWriter } from "../otlp/wire";
import { spanIdentity } from "../otlp/span-facts";
import { bytesKey, Interner } from "./bytes-key";
import type { PendingSpan } from "./part-store";

export function assembleTrace(stored: Uint8Array | undefined, pending: readonly PendingSpan[]): Uint8Array {
	return assembleChunks(stored, pending, Number.POSITIVE_INFINITY)[0] ?? new Uint8Array(0);
}

/** The same union cut into TracesData messages of about `maxBytes` each (RPC messages are bounded). */
export function assembleChunks(stored: Uint8Array | undefined, pending: readonly PendingSpan[], maxBytes: number): Uint8Array[] {
	const chunks: Uint8Array[] = [];
	const heads = new Interner();
	const seen = new Set<string>();
	let writer = new TracesDataWriter();
	let size = 0;
	const add = (resource: Uint8Array, scope: Uint8Array, span: Uint8Array) => {
		const key = bytesKey(spanIdentity(span));
		if (seen.has(key)) return;
		seen.add(key);
		if (size > 0 && size + span.length > maxBytes) {
			chunks.push(writer.finish());
			writer = new TracesDataWriter();
			size = 0;
		}
		writer.add(heads.intern(resource), heads.intern(scope), span);
		size += span.length;
	};
	if (stored) forEachSpan(stored, add);
	for (const span of pending) add(span.resource, span.scope, span.body);
	if (writer.spanCount > 0 || chunks.length === 0) chunks.push(writer.finish());
	return chunks;
}
