// Runs the search page's searches through the Tempo API, finds out which results are still open
// (HEAD /v1/traces/{id}: x-trace-status), and refreshes the list while any of them is: an open
// trace's span count and duration grow as it assembles.
import { apiFetch, isAuthRequired } from "../api/client.ts";
import { searchTraces, tagNames, tagValues } from "../api/tempo.ts";
import { getState, updateSearch, type ResultStatus } from "../state/store.ts";
import { resolveRange, type SearchQuery } from "./search-query.ts";

const OPEN_REFRESH_MS = 5_000;
let refreshTimer: ReturnType<typeof setTimeout> | undefined;
let generation = 0;

export async function runSearch(query: SearchQuery): Promise<void> {
	clearTimeout(refreshTimer);
	const mine = ++generation;
	// A refresh of the same query keeps the list on screen while it runs.
	updateSearch((s) => ({ loading: s.ran !== query, error: undefined, ran: query, results: s.ran === query ? s.results : [] }));
	try {
		const results = await searchTraces({ q: query.q, ...resolveRange(query.range), limit: query.limit });
		if (mine !== generation) return;
		// Newest first, whatever order the server chose.
		results.sort((a, b) => compareNanos(b.startTimeUnixNano, a.startTimeUnixNano));
		updateSearch(() => ({ loading: false, results }));
		await refreshStatuses(mine, results.map((r) => r.traceID));
	} catch (e) {
		if (mine !== generation) return;
		updateSearch(() => ({ loading: false, error: isAuthRequired(e) ? undefined : e instanceof Error ? e.message : String(e) }));
		return;
	}
	if (mine !== generation) return;
	const open = Object.values(getState().search.statuses).some((s) => s === "partial");
	if (open) refreshTimer = setTimeout(() => void runSearch(query), OPEN_REFRESH_MS);
}

export function stopSearch(): void {
	generation++;
	clearTimeout(refreshTimer);
}

async function refreshStatuses(mine: number, traceIds: string[]): Promise<void> {
	const entries = await Promise.all(traceIds.map(async (id) => [id, await statusOf(id)] as const));
	if (mine !== generation) return;
	updateSearch(() => ({ statuses: Object.fromEntries(entries) }));
}

async function statusOf(traceId: string): Promise<ResultStatus> {
	try {
		const response = await apiFetch(`/v1/traces/${traceId.padStart(32, "0")}`, { method: "HEAD" });
		const status = response.headers.get("x-trace-status");
		return status === "partial" || status === "complete" ? status : "unknown";
	} catch {
		return "unknown"; // The list still shows the trace; only its open/complete mark is missing.
	}
}

/** Service names, span names and attribute keys for the form's suggestions; quietly none without the API. */
export async function loadSuggestions(): Promise<void> {
	try {
		const [scopes, services, names] = await Promise.all([tagNames(), tagValues("resource.service.name"), tagValues("name")]);
		const attributeKeys = scopes.filter((s) => s.name === "resource" || s.name === "span").flatMap((s) => s.tags.map((t) => `${s.name}.${t}`));
		updateSearch(() => ({ serviceNames: services, spanNames: names, attributeKeys }));
	} catch {
		// Suggestions are a convenience: the form works without them.
	}
}

function compareNanos(a = "0", b = "0"): number {
	return a.length - b.length || (a < b ? -1 : a > b ? 1 : 0);
}
