// Tag names and values for Grafana's Search builder and TraceQL autocomplete:
// GET /api/v2/search/tags, /api/v2/search/tag/{tag}/values (scoped tags, typed values), and the
// older /api/search/tags, /api/search/tag/{tag}/values (plain lists).
import { authenticate } from "../auth";
import { configFor } from "../config";
import type { Env } from "../env";
import { HttpError } from "../http/errors";
import { errorResponse } from "../http/respond";
import { queryErrorFrom } from "../traceql/errors";
import type { PartitionTagValue, TagTarget } from "../search/partition";
import { searchTagNames, searchTagValues } from "../search/search";
import { INTRINSIC_NAMES, KIND_KEYWORDS, LISTED_INTRINSICS, STATUS_KEYWORDS } from "../traceql/fields";
import { narrows, parseTraceQL } from "../traceql/parse";
import { boundedInteger, timeRange } from "./search-route";

/** The intrinsics search understands, as Tempo lists them in the `intrinsic` scope (one table, in src/traceql/fields.ts). */
export const INTRINSIC_TAGS: readonly string[] = LISTED_INTRINSICS;
const DEFAULT_TAG_LIMIT = 5_000;
const MAX_TAG_LIMIT = 10_000;

export interface TagValue {
	type: PartitionTagValue["type"] | "keyword" | "duration";
	value: string;
}

export async function handleTagsV2(request: Request, env: Env): Promise<Response> {
	try {
		const { tenant } = await authenticate(request, configFor(env), "read");
		const params = new URL(request.url).searchParams;
		const scope = params.get("scope") ?? "";
		if (!["", "all", "resource", "span", "intrinsic"].includes(scope)) {
			throw new HttpError(400, `unsupported scope ${JSON.stringify(scope.slice(0, 40))}: use resource, span, intrinsic or none`);
		}
		const limit = boundedInteger(params, "limit", DEFAULT_TAG_LIMIT, 1, MAX_TAG_LIMIT);
		const { startMs, endMs } = timeRange(params);
		const names = scope === "intrinsic" ? { resource: [], span: [] } : await searchTagNames(env, tenant, startMs, endMs);
		const scopes = [
			{ name: "resource", tags: names.resource.slice(0, limit) },
			{ name: "span", tags: names.span.slice(0, limit) },
			{ name: "intrinsic", tags: INTRINSIC_TAGS },
		].filter((s) => scope === "" || scope === "all" || s.name === scope);
		return Response.json({ scopes });
	} catch (e) {
		return errorResponse(queryErrorFrom(e) ?? e);
	}
}

export async function handleTagsV1(request: Request, env: Env): Promise<Response> {
	try {
		const { tenant } = await authenticate(request, configFor(env), "read");
		const params = new URL(request.url).searchParams;
		const limit = boundedInteger(params, "limit", DEFAULT_TAG_LIMIT, 1, MAX_TAG_LIMIT);
		const { startMs, endMs } = timeRange(params);
		const names = await searchTagNames(env, tenant, startMs, endMs);
		const tagNames = [...new Set([...names.resource, ...names.span, ...INTRINSIC_TAGS])].sort().slice(0, limit);
		return Response.json({ tagNames });
	} catch (e) {
		return errorResponse(queryErrorFrom(e) ?? e);
	}
}

export async function handleTagValues(request: Request, env: Env, rawTag: string, version: "v1" | "v2"): Promise<Response> {
	try {
		const { tenant } = await authenticate(request, configFor(env), "read");
		const params = new URL(request.url).searchParams;
		const limit = boundedInteger(params, "limit", DEFAULT_TAG_LIMIT, 1, MAX_TAG_LIMIT);
		const { startMs, endMs } = timeRange(params);
		let tag: string;
		try {
			tag = decodeURIComponent(rawTag);
		} catch {
			throw new HttpError(400, "the tag name is not valid percent-encoding");
		}
		const values = await tagValues(env, tenant, tag, startMs, endMs, limit, narrowingQuery(params.get("q")));
		return Response.json(version === "v2" ? { tagValues: values } : { tagValues: values.map((v) => v.value) });
	} catch (e) {
		return errorResponse(queryErrorFrom(e) ?? e);
	}
}

/**
 * The rest of the query Grafana's builder is editing (`q`), when it narrows anything: a query that
 * is empty, `{}`, or does not parse (the builder sends what the user has typed so far) lists the
 * values of the whole range instead of failing.
 */
function narrowingQuery(q: string | null): string | undefined {
	if (q === null) return undefined;
	const parsed = parseTraceQL(q);
	return parsed.ok && narrows(parsed.query) ? q : undefined;
}

async function tagValues(env: Env, tenant: string, tag: string, startMs: number, endMs: number, limit: number, query: string | undefined): Promise<TagValue[]> {
	switch (INTRINSIC_NAMES[tag]) {
		case "status":
			return Object.keys(STATUS_KEYWORDS).map((value) => ({ type: "keyword", value }));
		case "kind":
			return Object.keys(KIND_KEYWORDS).map((value) => ({ type: "keyword", value }));
		case "duration":
		case "traceDuration":
		case "nestedSetLeft":
		case "nestedSetRight":
		case "nestedSetParent":
			return [];
	}
	const target = targetOf(tag);
	return searchTagValues(env, tenant, target, startMs, endMs, limit, query);
}

function targetOf(tag: string): TagTarget {
	const intrinsic = INTRINSIC_NAMES[tag];
	if (intrinsic === "name" || intrinsic === "rootName" || intrinsic === "rootServiceName" || intrinsic === "statusMessage") return { kind: intrinsic };
	if (tag.startsWith("resource.") && tag.length > 9) return { kind: "attribute", scope: "resource", key: tag.slice(9) };
	if (tag.startsWith("span.") && tag.length > 5) return { kind: "attribute", scope: "span", key: tag.slice(5) };
	if (tag.startsWith(".") && tag.length > 1) return { kind: "attribute", scope: "any", key: tag.slice(1) };
	if (/^(event|link|instrumentation)[.:]/.test(tag) || tag === "") {
		throw new HttpError(400, `unsupported tag ${JSON.stringify(tag.slice(0, 100))}: use resource.<key>, span.<key>, .<key> or an intrinsic (${INTRINSIC_TAGS.join(", ")})`);
	}
	// The v1 API names tags without a scope (`service.name`); a v2 caller that does so means either scope too.
	return { kind: "attribute", scope: "any", key: tag };
}

