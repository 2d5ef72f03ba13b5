// CORS for browser exporters and viewers: off unless CORS_ORIGINS lists origins (or "*").

const ALLOWED_METHODS = "GET, POST, OPTIONS";
const ALLOWED_HEADERS = "authorization, content-type, content-encoding, accept";
const EXPOSED_HEADERS = "x-trace-status, x-trace-merged, x-trace-merged-count, x-trace-refused-merges, x-trace-dropped-spans, x-trace-sampling, location, retry-after";

/** The allowed origin to echo for this request, or undefined when CORS does not apply. */
function allowedOrigin(request: Request, origins: readonly string[]): string | undefined {
	const origin = request.headers.get("origin");
	if (!origin || origins.length === 0) return undefined;
	return origins.includes("*") || origins.includes(origin) ? origin : undefined;
}

/** Answers a CORS preflight, or undefined if `request` is not one. */
export function preflight(request: Request, origins: readonly string[]): Response | undefined {
	if (request.method !== "OPTIONS" || !request.headers.has("access-control-request-method")) return undefined;
	const origin = allowedOrigin(request, origins);
	if (!origin) return new Response(null, { status: 204, headers: { vary: "origin" } });
	return new Response(null, {
		status: 204,
		headers: {
			"access-control-allow-origin": origin,
			"access-control-allow-methods": ALLOWED_METHODS,
			"access-control-allow-headers": ALLOWED_HEADERS,
			"access-control-max-age": "86400",
			vary: "origin",
		},
	});
}

/** Adds CORS headers to a response for an allowed origin (WebSocket upgrades are not subject to CORS). */
export function withCors(request: Request, response: Response, origins: readonly string[]): Response {
	const origin = allowedOrigin(request, origins);
	if (!origin || response.status === 101) return response;
	const headers = new Headers(response.headers);
	headers.set("access-control-allow-origin", origin);
	headers.set("access-control-expose-headers", EXPOSED_HEADERS);
	headers.append("vary", "origin");
	return new Response(response.body, { status: response.status, statusText: response.statusText, headers });
}
