// The search form's filters as one TraceQL spanset, written the way Grafana's Search builder writes
// it: conditions joined by ` && ` inside one `{ }`, so they must all hold for the same span.

export interface SearchFilters {
	service: string;
	spanName: string;
	status: "" | "error" | "ok" | "unset";
	/** Span durations as TraceQL durations ("100ms", "1.5s") or plain milliseconds ("250"). */
	minDuration: string;
	maxDuration: string;
	attributeKey: string;
	attributeValue: string;
}

export const NO_FILTERS: SearchFilters = { service: "", spanName: "", status: "", minDuration: "", maxDuration: "", attributeKey: "", attributeValue: "" };

export function filtersToTraceQL(f: SearchFilters): string {
	const conditions: string[] = [];
	if (f.service.trim()) conditions.push(`resource.service.name=${quote(f.service.trim())}`);
	if (f.spanName.trim()) conditions.push(`name=${quote(f.spanName.trim())}`);
	if (f.status) conditions.push(`status=${f.status}`);
	const min = duration(f.minDuration);
	if (min) conditions.push(`duration>=${min}`);
	const max = duration(f.maxDuration);
	if (max) conditions.push(`duration<=${max}`);
	const key = f.attributeKey.trim();
	if (key) conditions.push(`${scoped(key)}=${literal(f.attributeValue.trim())}`);
	return `{${conditions.join(" && ")}}`;
}

/** A TraceQL string literal: `"` and `\` escaped, newlines as `\n`. */
export function quote(value: string): string {
	return `"${value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n")}"`;
}

/** `resource.x` and `span.x` stay as typed; a bare key matches either scope (`.x`). */
function scoped(key: string): string {
	return /^(resource|span)\./.test(key) || key.startsWith(".") ? key : `.${key}`;
}

/** Numbers and booleans as TraceQL literals (they match int, float and bool attributes); the rest quoted. */
function literal(value: string): string {
	if (/^-?\d+(\.\d+)?$/.test(value) || value === "true" || value === "false") return value;
	return quote(value);
}

/** "250" means milliseconds; "1.5s", "100ms", "2m" pass as they are; anything else is ignored. */
export function duration(text: string): string | undefined {
	const t = text.trim();
	if (/^\d+(\.\d+)?$/.test(t)) return `${t}ms`;
	if (/^\d+(\.\d+)?(ns|us|µs|ms|s|m|h)$/.test(t)) return t;
	return undefined;
}
