// Tag names and values one index partition has seen, kept in its memory for Grafana's tag
// autocomplete: rebuilt from the partition's entries when first asked after the object starts (rows read are cheap) and
// updated as entries are written, so listing them writes nothing.
import type { Pair, TraceEntry, ValueType } from "./entry";

export interface PartitionTagValue {
	type: "string" | "int" | "float" | "bool";
	value: string;
}

/** Keys per scope and values per key the tag catalog keeps in memory; beyond them it stops adding. */
const CATALOG_MAX_KEYS = 1_000;
export const CATALOG_MAX_VALUES = 1_000;
export const TYPE_NAMES: Record<ValueType, PartitionTagValue["type"]> = { s: "string", i: "int", d: "float", b: "bool" };

/** Tag names and values seen in this partition, rebuilt from the rows when the object starts. */
export class TagCatalog {
	/** scope ("r", "s", "n" span names, "R" root names, "S" root services, "m" status messages) -> key -> value -> type */
	readonly scopes = new Map<string, Map<string, Map<string, ValueType>>>();

	/** The tags of one entry (resource attributes, span attributes, span and root names). */
	addEntry(entry: TraceEntry): void {
		for (const group of entry.resources) for (const index of group) this.#addPair("r", entry.values[index]);
		for (const span of entry.spans) {
			this.#add("n", "", span[1], "s");
			for (const index of span[7]) this.#addPair("s", entry.values[index]);
		}
		if (entry.rootServiceName !== undefined) this.#add("S", "", entry.rootServiceName, "s");
		if (entry.rootName !== undefined) this.#add("R", "", entry.rootName, "s");
	}

	#addPair(scope: "r" | "s", pair: Pair | undefined): void {
		if (pair) this.#add(scope, pair[0], String(pair[2]), pair[1]);
	}

	keys(scope: "r" | "s"): string[] {
		return [...(this.scopes.get(scope)?.keys() ?? [])];
	}

	values(scope: string, key: string): PartitionTagValue[] {
		const values = this.scopes.get(scope)?.get(key);
		return values ? [...values].map(([value, type]) => ({ type: TYPE_NAMES[type], value })) : [];
	}

	#add(scope: string, key: string, value: string, type: ValueType): void {
		let keys = this.scopes.get(scope);
		if (!keys) this.scopes.set(scope, (keys = new Map()));
		let values = keys.get(key);
		if (!values) {
			if (keys.size >= CATALOG_MAX_KEYS) return;
			keys.set(key, (values = new Map()));
		}
		if (values.size < CATALOG_MAX_VALUES && !values.has(value)) values.set(value, type);
	}
}

