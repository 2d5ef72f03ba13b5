// A field's value on one span of an entry, typed the way TraceQL compares, groups and returns it.
import type { EntrySpan, TraceEntry } from "../search/entry";
import { KEY_MAX_CHARS } from "../search/entry";
import type { Field } from "./ast";
import { treeOf } from "./tree";

export type ValueKind = "s" | "i" | "d" | "b" | "status" | "kind" | "duration";

export interface TypedValue {
	type: ValueKind;
	value: string | number | boolean;
}

/** Every value the field has on the span (an attribute may hold an array: each element counts). */
export function valuesOf(entry: TraceEntry, index: number, field: Field): TypedValue[] {
	const span = entry.spans[index]!;
	if (field.kind === "attribute") {
		const key = field.key.length > KEY_MAX_CHARS ? field.key.slice(0, KEY_MAX_CHARS) : field.key;
		const out: TypedValue[] = [];
		if (field.scope !== "resource") for (const i of span[7]) pushPair(entry, i, key, out);
		// Tempo's unscoped `.key` prefers the span's own attribute over the resource's.
		if (field.scope === "resource" || (field.scope === "any" && out.length === 0)) for (const i of entry.resources[span[6]] ?? []) pushPair(entry, i, key, out);
		return out;
	}
	const one = intrinsicValue(entry, span, index, field.name);
	return one === undefined ? [] : [one];
}

/** The first value of the field, if the span has one. */
export function valueOf(entry: TraceEntry, index: number, field: Field): TypedValue | undefined {
	return valuesOf(entry, index, field)[0];
}

function pushPair(entry: TraceEntry, index: number, key: string, out: TypedValue[]): void {
	const pair = entry.values[index];
	if (pair && pair[0] === key) out.push({ type: pair[1], value: pair[2] });
}

function intrinsicValue(entry: TraceEntry, span: EntrySpan, index: number, name: Field & { kind: "intrinsic" } extends { name: infer N } ? N : never): TypedValue | undefined {
	switch (name) {
		case "name":
			return { type: "s", value: span[1] };
		case "statusMessage":
			return { type: "s", value: span[8] };
		case "status":
			return { type: "status", value: span[5] };
		case "kind":
			return { type: "kind", value: span[4] };
		case "duration":
			return { type: "duration", value: span[3] };
		case "traceDuration":
			return { type: "duration", value: Number(BigInt(entry.endNs) - BigInt(entry.startNs)) };
		case "rootName":
			return entry.rootName === undefined ? undefined : { type: "s", value: entry.rootName };
		case "rootServiceName":
			return entry.rootServiceName === undefined ? undefined : { type: "s", value: entry.rootServiceName };
		case "nestedSetLeft":
			return { type: "i", value: treeOf(entry).left[index]! };
		case "nestedSetRight":
			return { type: "i", value: treeOf(entry).right[index]! };
		case "nestedSetParent":
			return { type: "i", value: treeOf(entry).nestedParent[index]! };
	}
}

/** A numeric reading of a value (durations in nanoseconds), for aggregates and metrics. */
export function numericOf(value: TypedValue | undefined): number | undefined {
	if (!value) return undefined;
	if (value.type === "i" || value.type === "d" || value.type === "duration") return value.value as number;
	return undefined;
}
