// The Tempo HTTP API the search page calls (README, "Search"): the same one Grafana's Tempo data
// source uses. Only the fields the viewer reads are typed.
import type { OtlpKeyValue } from "../../otlp/json-types.ts";
import { apiJson } from "./client.ts";

export interface SearchSpan {
	spanID: string;
	name?: string;
	startTimeUnixNano?: string;
	durationNanos?: string;
	attributes?: OtlpKeyValue[];
}

export interface SearchTrace {
	traceID: string;
	rootServiceName?: string;
	rootTraceName?: string;
	startTimeUnixNano?: string;
	durationMs?: number;
	spanSets?: { spans?: SearchSpan[]; matched?: number }[];
	serviceStats?: Record<string, { spanCount?: number; errorCount?: number }>;
}

export interface SearchParams {
	q: string;
	/** Unix seconds. */
	start: number;
	end: number;
	limit: number;
}

export async function searchTraces(params: SearchParams): Promise<SearchTrace[]> {
	const query = new URLSearchParams({ q: params.q, start: String(params.start), end: String(params.end), limit: String(params.limit) });
	const body = await apiJson<{ traces?: SearchTrace[] }>(`/api/search?${query}`);
	return body.traces ?? [];
}

export async function tagNames(): Promise<{ name: string; tags: string[] }[]> {
	const body = await apiJson<{ scopes?: { name: string; tags?: string[] }[] }>("/api/v2/search/tags");
	return (body.scopes ?? []).map((s) => ({ name: s.name, tags: s.tags ?? [] }));
}

export async function tagValues(scopedTag: string): Promise<string[]> {
	const body = await apiJson<{ tagValues?: { type?: string; value: string }[] }>(`/api/v2/search/tag/${encodeURIComponent(scopedTag)}/values`);
	return (body.tagValues ?? []).map((v) => v.value);
}
