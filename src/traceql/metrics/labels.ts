// Series labels as Tempo writes them: keys spelled the way the query named the attribute
// (Tempo's canonical `Attribute.String()`: `resource.service.name`, `span.http.route`, `.foo`,
// intrinsics by their bare name), values typed as OTLP AnyValue JSON.
import type { Field } from "../ast";
import { kindName, statusName } from "../fields";
import type { TypedValue } from "../values";
import { goDuration } from "./plan";

export type LabelValue = { stringValue: string } | { intValue: string } | { doubleValue: number } | { boolValue: boolean };

export interface Label {
	key: string;
	value: LabelValue;
}

export function labelKey(field: Field): string {
	if (field.kind === "intrinsic") return field.name;
	return field.scope === "any" ? `.${field.key}` : `${field.scope}.${field.key}`;
}

/** A typed value as a label value: keywords and durations as strings, as Tempo's `Static.AsAnyValue`. */
export function labelValue(value: TypedValue): LabelValue {
	switch (value.type) {
		case "s":
			return { stringValue: value.value as string };
		case "i":
			return { intValue: String(value.value) };
		case "d":
			return { doubleValue: value.value as number };
		case "b":
			return { boolValue: value.value as boolean };
		case "status":
			return { stringValue: statusName(value.value as number) };
		case "kind":
			return { stringValue: kindName(value.value as number) };
		case "duration":
			return { stringValue: goDuration(value.value as number) };
	}
}

export function str(key: string, value: string): Label {
	return { key, value: { stringValue: value } };
}

export function dbl(key: string, value: number): Label {
	return { key, value: { doubleValue: value } };
}

/** A stable identity of a label set (the order is the series' own). */
export function seriesKey(labels: readonly Label[]): string {
	return JSON.stringify(labels);
}

/** Label arrays by a cheap key of their values, so each series' labels are built (and serialized) once per evaluation. */
export class LabelCache {
	readonly #cache = new Map<string, Label[]>();
	get(key: string, build: () => Label[]): Label[] {
		let labels = this.#cache.get(key);
		if (!labels) this.#cache.set(key, (labels = build()));
		return labels;
	}
}
