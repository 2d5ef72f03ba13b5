// What one invocation may hold while its spans wait to be sent. A tail consumer shares a 128 MB
// isolate with every other invocation it is following, some of which (WebSockets, streamed
// responses) run for hours, so everything held is capped and what is turned away is counted.

/** An attribute value as the runtime reports it. */
export type TailValue = TailStream.Attribute["value"];

/** Approximate bytes of spans, attributes and events one invocation holds before it drops. */
export const MAX_BUFFERED_BYTES = 1024 * 1024;
/** Closed spans are sent once they hold this much, without waiting for the flush interval. */
export const FLUSH_BYTES = 256 * 1024;
/** ... or once this many have closed. */
export const FLUSH_SPANS = 500;
/** Log, exception and OpenTelemetry events per span. */
export const MAX_EVENTS_PER_SPAN = 128;
/** Links per span (OpenTelemetry's default link count limit). */
export const MAX_LINKS_PER_SPAN = 128;
/** Attributes per span (OpenTelemetry's default attribute count limit). */
export const MAX_ATTRIBUTES_PER_SPAN = 128;
/** Characters kept of a log message, stack trace or string attribute. */
export const MAX_TEXT = 4_096;
/** Elements kept of an array attribute. */
const MAX_ARRAY = 128;
/** What a span costs before its name, attributes and events: ids, times, maps. */
export const SPAN_OVERHEAD_BYTES = 256;

export function clipText(text: string): string {
	return text.length > MAX_TEXT ? `${text.slice(0, MAX_TEXT)}…` : text;
}

export function clipValue(value: TailValue): TailValue {
	if (typeof value === "string") return clipText(value);
	if (!Array.isArray(value)) return value;
	const kept = value.length > MAX_ARRAY ? value.slice(0, MAX_ARRAY) : value;
	return (typeof kept[0] === "string" ? (kept as string[]).map(clipText) : kept) as TailValue;
}

/** Bytes an attribute is charged: UTF-16 string lengths are close enough for a bound. */
export function attributeBytes(key: string, value: TailValue): number {
	return 16 + key.length + valueBytes(value);
}

function valueBytes(value: TailValue | string | number | boolean | bigint): number {
	if (typeof value === "string") return value.length;
	if (Array.isArray(value)) return value.reduce<number>((sum, v) => sum + 8 + valueBytes(v), 0);
	return 8;
}
