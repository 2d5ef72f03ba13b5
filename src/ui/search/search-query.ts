// A search as the URL carries it, so that a search is a link: /ui/?q=<TraceQL>&range=1h, or with
// a custom range /ui/?q=<TraceQL>&start=<unix s>&end=<unix s> (Tempo's own parameters).

export const RANGE_PRESETS = { "15m": 15 * 60, "1h": 3600, "6h": 6 * 3600, "24h": 24 * 3600 } as const;
export type RangePreset = keyof typeof RANGE_PRESETS;
export const DEFAULT_LIMIT = 20;

export type TimeRange = { preset: RangePreset } | { start: number; end: number };

export interface SearchQuery {
	q: string;
	range: TimeRange;
	limit: number;
}

/** The search in `search` (location.search), or undefined when the URL names none. */
export function parseSearchQuery(search: string): SearchQuery | undefined {
	const params = new URLSearchParams(search);
	const q = params.get("q");
	if (q === null) return undefined;
	const limit = Number(params.get("limit"));
	return { q: q.trim() || "{}", range: parseRange(params), limit: Number.isInteger(limit) && limit > 0 ? Math.min(limit, 1000) : DEFAULT_LIMIT };
}

function parseRange(params: URLSearchParams): TimeRange {
	const preset = params.get("range");
	if (preset && preset in RANGE_PRESETS) return { preset: preset as RangePreset };
	const start = Number(params.get("start"));
	const end = Number(params.get("end"));
	if (params.has("start") && params.has("end") && Number.isFinite(start) && Number.isFinite(end) && end >= start) return { start, end };
	return { preset: "1h" };
}

export function searchQueryUrl(query: SearchQuery): string {
	const params = new URLSearchParams({ q: query.q });
	if ("preset" in query.range) params.set("range", query.range.preset);
	else {
		params.set("start", String(query.range.start));
		params.set("end", String(query.range.end));
	}
	if (query.limit !== DEFAULT_LIMIT) params.set("limit", String(query.limit));
	return `/ui/?${params}`;
}

/** Unix seconds for the API; a preset is measured back from `nowMs`. */
export function resolveRange(range: TimeRange, nowMs = Date.now()): { start: number; end: number } {
	if ("preset" in range) {
		const end = Math.ceil(nowMs / 1000);
		return { start: end - RANGE_PRESETS[range.preset], end };
	}
	return range;
}
