// How durations, times and attribute values read on screen.
import type { OtlpAnyValue } from "../../otlp/json-types.ts";

/** 0 µs, 850 µs, 12.3 ms, 4.56 s, 2 m 5 s. */
export function formatDurationUs(us: number): string {
	if (us < 1000) return `${Math.round(us)} µs`;
	if (us < 1_000_000) return `${trim(us / 1000)} ms`;
	if (us < 60_000_000) return `${trim(us / 1_000_000)} s`;
	const seconds = Math.round(us / 1_000_000);
	return `${Math.floor(seconds / 60)} m ${seconds % 60} s`;
}

function trim(n: number): string {
	return n >= 100 ? n.toFixed(0) : n >= 10 ? n.toFixed(1) : n.toFixed(2);
}

/** A local date and time with milliseconds. */
export function formatTimestampUs(us: number): string {
	if (!us) return "—";
	const d = new Date(us / 1000);
	const pad = (n: number, w = 2) => String(n).padStart(w, "0");
	return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
}

export function formatAnyValue(value: OtlpAnyValue | undefined): string {
	if (!value) return "";
	if (value.stringValue !== undefined) return value.stringValue;
	if (value.boolValue !== undefined) return String(value.boolValue);
	if (value.intValue !== undefined) return String(value.intValue);
	if (value.doubleValue !== undefined) return String(value.doubleValue);
	if (value.bytesValue !== undefined) return `bytes ${value.bytesValue}`;
	if (value.arrayValue) return `[${(value.arrayValue.values ?? []).map(formatAnyValue).join(", ")}]`;
	if (value.kvlistValue) return `{${(value.kvlistValue.values ?? []).map((kv) => `${kv.key}: ${formatAnyValue(kv.value)}`).join(", ")}}`;
	return "";
}

export const SPAN_KINDS = ["unspecified", "internal", "server", "client", "producer", "consumer"];
export const STATUS_CODES = ["unset", "ok", "error"];
