// The trace R2 holds under a trace's key: a TracesData with summary metadata, or the empty
// redirect a merge leaves behind.
import type { Env } from "../env";
import { countUsage } from "../metering/usage";
import { traceKey, type TraceAddress } from "../trace-address";
import type { MergeRecord } from "./types";

export interface StoredTrace {
	trace?: Uint8Array;
	spanCount: number;
	redirect?: MergeRecord;
	/** R2 custom metadata (the sampling decision rides there: src/forward/decision.ts). */
	metadata?: Record<string, string>;
}

export async function readStoredTrace(env: Env, address: TraceAddress): Promise<StoredTrace | undefined> {
	countUsage("r2ClassB");
	const object = await env.TRACES.get(traceKey(address));
	if (!object) return undefined;
	const redirect = object.customMetadata?.mergedInto;
	if (redirect) {
		const meta = object.customMetadata!;
		await object.body.cancel();
		return { spanCount: 0, redirect: { traceId: address.traceId, intoTraceId: redirect, parentSpanId: meta.parentSpanId ?? "", rule: (meta.rule ?? "hint") as MergeRecord["rule"] } };
	}
	return { trace: new Uint8Array(await object.arrayBuffer()), spanCount: Number(object.customMetadata?.spanCount ?? 0), metadata: object.customMetadata };
}

export function putCounted(env: Env, key: string, value: Uint8Array, options: R2PutOptions): Promise<R2Object | null> {
	countUsage("r2ClassA");
	return env.TRACES.put(key, value, options);
}
