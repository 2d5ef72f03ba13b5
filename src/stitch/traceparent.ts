// W3C Trace Context `traceparent` (https://www.w3.org/TR/trace-context/#traceparent-header).

export interface ParentContext {
	/** 32 lowercase hex digits. */
	traceId: string;
	/** 16 lowercase hex digits. */
	spanId: string;
	flags: number;
}

const VERSION_00 = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;
// A future version may append fields after the flags ("-..."); its first four fields keep this shape.
const FUTURE = /^([0-9a-e][0-9a-f]|f[0-9a-e])-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/;

/** Parses a traceparent value; undefined when malformed (invalid values are ignored, never fatal). */
export function parseTraceparent(value: string): ParentContext | undefined {
	const text = value.trim();
	let match = VERSION_00.exec(text);
	let fields: [string, string, string] | undefined = match ? [match[1]!, match[2]!, match[3]!] : undefined;
	if (!fields && !text.startsWith("00-")) {
		match = FUTURE.exec(text);
		if (match) fields = [match[2]!, match[3]!, match[4]!];
	}
	if (!fields) return undefined;
	const [traceId, spanId, flags] = fields;
	if (/^0+$/.test(traceId) || /^0+$/.test(spanId)) return undefined;
	return { traceId, spanId, flags: parseInt(flags, 16) };
}

export function formatTraceparent(context: ParentContext): string {
	return `00-${context.traceId}-${context.spanId}-${context.flags.toString(16).padStart(2, "0")}`;
}
