// GET /: a browser (Accept: text/html) is sent to the web viewer; an API client gets the service
// description as JSON, as before the viewer existed.

/** Where the viewer lives; the static assets under it are served before the Worker runs (wrangler.toml). */
export const VIEWER_PATH = "/ui/";

const DESCRIPTION = {
	service: "workers-trace-assembler",
	ingest: "POST /v1/traces",
	read: "GET /v1/traces/{traceId}",
	stitch: "POST /v1/stitch",
	live: "GET /v1/traces/{traceId}/live (WebSocket)",
	tempo: "GET /api/search, /api/v2/traces/{traceId}, /api/v2/search/tags (Grafana's Tempo data source)",
	viewer: `GET ${VIEWER_PATH}`,
};

export function handleRoot(request: Request): Response {
	if (prefersHtml(request.headers.get("accept") ?? "")) {
		return new Response(null, { status: 302, headers: { location: VIEWER_PATH, vary: "accept" } });
	}
	return Response.json(DESCRIPTION, { headers: { vary: "accept" } });
}

/** `/ui` without its slash: the assets live under `/ui/`. */
export function viewerWithoutSlash(): Response {
	return new Response(null, { status: 301, headers: { location: VIEWER_PATH } });
}

/**
 * Browsers put text/html first in Accept for a navigation; curl sends `*\/*` and API clients
 * application/json, which keep the JSON. text/html must be named and weigh at least as much as JSON.
 */
function prefersHtml(accept: string): boolean {
	const weights = new Map<string, number>();
	for (const part of accept.split(",")) {
		const [type, ...params] = part.trim().toLowerCase().split(";");
		const q = params.map((p) => /^\s*q=([\d.]+)\s*$/.exec(p)?.[1]).find((v) => v !== undefined);
		if (type) weights.set(type, q === undefined ? 1 : Number(q));
	}
	const html = weights.get("text/html") ?? 0;
	return html > 0 && html >= (weights.get("application/json") ?? 0);
}
