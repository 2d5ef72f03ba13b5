// Tag names and values one index partition has seen, kept in its memory for Grafana's tag
// autocomplete: rebuilt from the partition's rows when the object starts (rows read are cheap) and
// updated as entries are written, so listing them writes nothing.
import type { ValueType } from "./entry";
import { parseTerm } from "./row";

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

	addRow(terms: string, rootService: string | null, rootName: string | null): void {
		for (const line of terms.split("\n")) {
			if (line === "") continue;
			if (line[0] === "n") {
				this.#add("n", "", line.slice(1).replace(/\\(\\|n)/g, (_, c: string) => (c === "n" ? "\n" : "\\")), "s");
				continue;
			}
			const parsed = parseTerm(line);
			if (parsed) this.#add(parsed.scope, parsed.key, parsed.value, parsed.type);
		}
		if (rootService !== null) this.#add("S", "", rootService, "s");
		if (rootName !== null) this.#add("R", "", rootName, "s");
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

