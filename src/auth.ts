// Bearer-token authentication (or HTTP basic auth with the token as the password). AUTH_TOKENS is a secret: `token`, `token=tenant` or
// `token=tenant:scope` entries separated by commas (scope `read`, `ingest` or `all`), or a JSON
// array of {"token", "tenant"?, "scope"?}. An entry splits at its last '=' that is followed by a
// tenant name, so base64 tokens keep their '=' padding. Tokens are compared as SHA-256 digests
// with a constant-time comparison, and never logged.
import type { Config } from "./config";
import { ConfigError, TENANT_NAME } from "./config";
import { AssemblerError } from "./errors";

export type Scope = "read" | "ingest" | "all";

export interface Principal {
	/** "" is the default tenant. */
	readonly tenant: string;
	readonly scope: Scope;
}

interface TokenEntry {
	digest: ArrayBuffer;
	principal: Principal;
}

const parsed = new WeakMap<Config, Promise<TokenEntry[]>>();

export interface AuthOptions {
	/** Accept the token in `Sec-WebSocket-Protocol` (only the live WebSocket route: browsers cannot set headers there). */
	webSocket?: boolean;
}

/** Who is calling; throws "unauthenticated" (no or unknown token) or "forbidden" (token without the needed scope). */
export async function authenticate(request: Request, config: Config, needs: "read" | "ingest", options: AuthOptions = {}): Promise<Principal> {
	const token = presentedToken(request, options.webSocket ?? false);
	const entries = await tokenEntries(config);
	if (token === undefined) {
		if (config.allowAnonymous === "all") return { tenant: "", scope: "all" };
		if (config.allowAnonymous === "read") {
			if (needs === "read") return { tenant: "", scope: "read" };
			throw new AssemblerError("unauthenticated", "authentication required to send spans: ALLOW_ANONYMOUS=read lets token-less callers read only; send Authorization: Bearer <token> with a token from AUTH_TOKENS");
		}
		throw new AssemblerError(
			"unauthenticated",
			entries.length === 0
				? "authentication required: this deployment has no AUTH_TOKENS secret; set one (wrangler secret put AUTH_TOKENS) or set ALLOW_ANONYMOUS=true for local use"
				: "authentication required: send Authorization: Bearer <token> with a token from AUTH_TOKENS",
		);
	}
	const digest = await sha256(token);
	let match: Principal | undefined;
	// Compare against every entry, without stopping early, so timing does not tell which matched.
	for (const entry of entries) {
		if (crypto.subtle.timingSafeEqual(entry.digest, digest)) match ??= entry.principal;
	}
	if (!match) {
		if (config.allowAnonymous === "all" && entries.length === 0) return { tenant: "", scope: "all" };
		throw new AssemblerError("unauthenticated", "invalid token: the bearer token is not one of AUTH_TOKENS");
	}
	if (match.scope !== "all" && match.scope !== needs) {
		throw new AssemblerError("forbidden", `this token may only ${match.scope === "read" ? "read traces" : "send spans"}`);
	}
	return match;
}

/**
 * The bearer token from `Authorization`, or (`webSocket`, the live route only) from
 * `Sec-WebSocket-Protocol: bearer, <token>`: browsers cannot set headers on a WebSocket, and
 * anywhere else a token in that header is one more place for it to leak into logs.
 */
export function presentedToken(request: Request, webSocket = false): string | undefined {
	const header = request.headers.get("authorization");
	if (header) {
		const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
		if (match) return match[1];
		return basicPassword(header) ?? "";
	}
	const protocols = webSocket ? request.headers.get("sec-websocket-protocol") : null;
	if (protocols) {
		const parts = protocols.split(",").map((p) => p.trim());
		const index = parts.indexOf("bearer");
		if (index >= 0 && parts[index + 1]) return parts[index + 1];
	}
	return undefined;
}

/**
 * HTTP basic auth (RFC 7617) with the token as the password, for clients that only offer a user
 * and password (Grafana's data source "Basic auth"); the user name is ignored, or is the token when
 * the password is empty.
 */
function basicPassword(header: string): string | undefined {
	const match = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header);
	if (!match) return undefined;
	let decoded: string;
	try {
		decoded = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(Uint8Array.from(atob(match[1]!), (c) => c.charCodeAt(0)));
	} catch {
		return undefined;
	}
	const colon = decoded.indexOf(":");
	if (colon < 0) return undefined;
	const password = decoded.slice(colon + 1);
	return password || decoded.slice(0, colon) || undefined;
}

function tokenEntries(config: Config): Promise<TokenEntry[]> {
	let entries = parsed.get(config);
	if (!entries) {
		entries = Promise.all(
			parseAuthTokens(config.authTokens).map(async ({ token, principal }) => ({ digest: await sha256(token), principal })),
		);
		parsed.set(config, entries);
	}
	return entries;
}

/** Parses the AUTH_TOKENS secret; throws ConfigError with a message that never echoes a token. */
export function parseAuthTokens(raw: string): { token: string; principal: Principal }[] {
	const text = raw.trim();
	if (!text) return [];
	const items: { token: unknown; tenant?: unknown; scope?: unknown }[] = [];
	if (text.startsWith("[")) {
		let json: unknown;
		try {
			json = JSON.parse(text);
		} catch {
			throw new ConfigError("AUTH_TOKENS starts with '[' but is not valid JSON");
		}
		if (!Array.isArray(json)) throw new ConfigError("AUTH_TOKENS JSON must be an array");
		for (const item of json) items.push(typeof item === "object" && item !== null ? item : { token: item });
	} else {
		for (const entry of text.split(",")) {
			const trimmed = entry.trim();
			if (!trimmed) continue;
			const eq = tenantSeparator(trimmed);
			if (eq < 0) {
				items.push({ token: trimmed });
				continue;
			}
			const [tenant, scope] = trimmed.slice(eq + 1).split(":");
			items.push({ token: trimmed.slice(0, eq), tenant, scope });
		}
	}
	return items.map((item, index) => {
		if (typeof item.token !== "string" || item.token.length === 0) throw new ConfigError(`AUTH_TOKENS entry ${index + 1} has no token`);
		const tenant = item.tenant === undefined || item.tenant === "" ? "" : item.tenant;
		if (typeof tenant !== "string" || (tenant !== "" && !TENANT_NAME.test(tenant))) {
			throw new ConfigError(`AUTH_TOKENS entry ${index + 1}: tenant must be 1-64 letters, digits, '.', '_' or '-'`);
		}
		const scope = item.scope === undefined || item.scope === "" ? "all" : item.scope;
		if (scope !== "all" && scope !== "read" && scope !== "ingest") {
			throw new ConfigError(`AUTH_TOKENS entry ${index + 1}: scope must be read, ingest or all`);
		}
		return { token: item.token, principal: { tenant, scope } };
	});
}

/**
 * Where `token=tenant[:scope]` splits: the last '=' followed by something shaped like a tenant
 * (and scope), so `dG9rZW4=` (base64 padding) is a token without a tenant and `dG9rZW4==acme` is
 * `dG9rZW4=` for tenant acme. -1 when the entry is a bare token. A token that itself contains '='
 * followed by letters cannot be told apart: use the JSON form for it.
 */
function tenantSeparator(entry: string): number {
	const eq = entry.lastIndexOf("=");
	if (eq <= 0) return -1;
	const rest = entry.slice(eq + 1);
	if (rest === "") return -1;
	return /^[^:=]*(:[^:=]*)?$/.test(rest) ? eq : -1;
}

async function sha256(text: string): Promise<ArrayBuffer> {
	return crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
}
