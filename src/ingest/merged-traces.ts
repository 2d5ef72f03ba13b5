// Which traces this isolate has seen merged into another. A merged trace's object forwards every
// span it receives to its parent (store, then move); the router can send them to the parent
// directly instead, which halves the object calls for a stitched trace's later spans. Merges are
// permanent, so an entry goes stale only if the parent refuses the spans (a cycle found later):
// then the router forgets it and asks the trace's own object, which knows best.
import type { MergeRecord } from "../assembler/types";

const MAX_ENTRIES = 10_000;
const merged = new Map<string, MergeRecord>();

export const mergedTraces = {
	/** The merge of the trace whose object is `name`, if this isolate has seen it. */
	get(name: string): MergeRecord | undefined {
		return merged.get(name);
	},
	remember(name: string, record: MergeRecord): void {
		if (merged.has(name)) return;
		// Oldest first out: Maps iterate in insertion order.
		if (merged.size >= MAX_ENTRIES) merged.delete(merged.keys().next().value!);
		merged.set(name, record);
	},
	forget(name: string): void {
		merged.delete(name);
	},
};
