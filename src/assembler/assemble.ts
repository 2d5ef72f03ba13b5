// The union of a stored trace and newer spans, as one TracesData. Used for every R2 write and for
// reads of an open trace, so a trace that was finalized, forgotten and reopened still comes out
// whole and without duplicates.
import { forEachSpan, TracesDataWriter } from "../otlp/wire";
import { spanIdentity } from "../otlp/span-facts";
import { bytesKey, Interner } from "./bytes-key";
import type { PendingSpan } from "./span-store";

export function assembleTrace(stored: Uint8Array | undefined, pending: readonly PendingSpan[]): Uint8Array {
	const writer = new TracesDataWriter();
	const heads = new Interner();
	const seen = new Set<string>();
	const add = (resource: Uint8Array, scope: Uint8Array, span: Uint8Array) => {
		const key = bytesKey(spanIdentity(span));
		if (seen.has(key)) return;
		seen.add(key);
		writer.add(heads.intern(resource), heads.intern(scope), span);
	};
	if (stored) forEachSpan(stored, add);
	for (const span of pending) add(span.group.resource, span.group.scope, span.body);
	return writer.finish();
}
