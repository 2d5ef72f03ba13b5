// Forwarding and tail-sampling settings: FORWARD_DESTINATIONS, SAMPLING_RULES, FORWARD_MAX_BYTES,
// FORWARD_CONCURRENCY and STORE_TRACES, validated with every other variable on the first request
// (config.ts calls loadForwardConfig), so a typo is a readable 500 naming the variable, never a
// silently dropped trace. Header values come from secrets, never from [vars].
import { ConfigError, TENANT_NAME, wholeNumber } from "../config";
import { parseObjectList, refuseUnknownKeys } from "./object-list";
import { parseSamplingRules, type SamplingRule } from "./rules";

export interface Destination {
	name: string;
	/** The OTLP/HTTP traces URL, as given (…/v1/traces). */
	endpoint: string;
	encoding: "protobuf" | "json";
	compression: "gzip" | "none";
	/** Parsed from the secret named by `headersSecret` (OTEL_EXPORTER_OTLP_HEADERS form). */
	headers: Record<string, string>;
	headersSecret?: string;
	/** Tenants whose traces this destination takes; undefined takes every tenant's. */
	tenants?: string[];
}

export interface ForwardConfig {
	destinations: Destination[];
	rules: SamplingRule[];
	/** One OTLP request carries at most this many bytes of spans; a bigger trace goes in several. */
	maxBytes: number;
	/** Requests in flight at once per destination, per consumer invocation. */
	concurrency: number;
	/** "sampled": a dropped trace is neither written to R2 nor indexed. */
	storeTraces: "all" | "sampled";
	/** The longest backoff between two delivery attempts, seconds (a destination's Retry-After may ask for more). */
	maxRetryDelayS: number;
}

/** Whether sampling decisions are made at all (no rules and no destinations: nothing changes). */
export function forwardingOn(config: ForwardConfig): boolean {
	return config.destinations.length > 0 || config.rules.length > 0;
}

export interface ForwardEnv {
	FORWARD_DESTINATIONS?: string;
	SAMPLING_RULES?: string;
	FORWARD_MAX_BYTES?: string | number;
	FORWARD_CONCURRENCY?: string | number;
	STORE_TRACES?: string;
	FORWARD_MAX_RETRY_DELAY_S?: string | number;
}

const MAX_DESTINATIONS = 16;
const DESTINATION_KEYS = new Set(["name", "endpoint", "encoding", "compression", "headersSecret", "tenants"]);
/** Header names a destination may not set: the consumer writes these itself. */
const RESERVED_HEADERS = new Set(["content-type", "content-encoding", "content-length", "host"]);

export function loadForwardConfig(env: ForwardEnv): ForwardConfig {
	const secrets = env as Record<string, unknown>;
	const maxBytes = wholeNumber(env.FORWARD_MAX_BYTES, "FORWARD_MAX_BYTES", 4 * 1024 * 1024, 64 * 1024);
	const concurrency = wholeNumber(env.FORWARD_CONCURRENCY, "FORWARD_CONCURRENCY", 4, 1);
	const maxRetryDelayS = wholeNumber(env.FORWARD_MAX_RETRY_DELAY_S, "FORWARD_MAX_RETRY_DELAY_S", 600, 1);
	const store = env.STORE_TRACES ?? "";
	if (store !== "" && store !== "all" && store !== "sampled") throw new ConfigError(`STORE_TRACES must be "all" or "sampled" (got ${JSON.stringify(store)})`);
	const rules = parseSamplingRules(env.SAMPLING_RULES);
	const destinations = parseDestinations(env.FORWARD_DESTINATIONS, secrets);
	if (store === "sampled" && rules.length === 0) throw new ConfigError('STORE_TRACES="sampled" needs SAMPLING_RULES (without rules every trace is kept)');
	return { destinations, rules, maxBytes, concurrency, maxRetryDelayS, storeTraces: store === "sampled" ? "sampled" : "all" };
}

function parseDestinations(raw: string | undefined, secrets: Record<string, unknown>): Destination[] {
	const names = new Set<string>();
	return parseObjectList("FORWARD_DESTINATIONS", raw, "destination", MAX_DESTINATIONS).map((listed) => {
		refuseUnknownKeys(listed, DESTINATION_KEYS);
		const { where, fields: d } = listed;
		if (typeof d.name !== "string" || !/^[A-Za-z0-9._-]{1,64}$/.test(d.name)) throw new ConfigError(`${where}.name must be 1-64 letters, digits, '.', '_' or '-'`);
		if (names.has(d.name)) throw new ConfigError(`${where}.name ${JSON.stringify(d.name)} is used twice`);
		names.add(d.name);
		let url: URL;
		try {
			url = new URL(String(d.endpoint));
		} catch {
			throw new ConfigError(`${where}.endpoint must be an http(s) URL, the OTLP/HTTP traces endpoint (…/v1/traces)`);
		}
		if (url.protocol !== "https:" && url.protocol !== "http:") throw new ConfigError(`${where}.endpoint must be an http(s) URL`);
		const encoding = d.encoding ?? "protobuf";
		if (encoding !== "protobuf" && encoding !== "json") throw new ConfigError(`${where}.encoding must be "protobuf" or "json"`);
		const compression = d.compression ?? "gzip";
		if (compression !== "gzip" && compression !== "none") throw new ConfigError(`${where}.compression must be "gzip" or "none"`);
		let headers: Record<string, string> = {};
		let headersSecret: string | undefined;
		if (d.headersSecret !== undefined) {
			if (typeof d.headersSecret !== "string" || !/^[A-Z_][A-Z0-9_]*$/i.test(d.headersSecret)) throw new ConfigError(`${where}.headersSecret must name a secret (letters, digits, '_')`);
			headersSecret = d.headersSecret;
			const value = secrets[headersSecret];
			if (typeof value !== "string" || value === "") throw new ConfigError(`${where}.headersSecret names ${headersSecret}, which is not set (wrangler secret put ${headersSecret})`);
			headers = parseHeaders(value, `${headersSecret} (the headers of ${where})`);
		}
		let tenants: string[] | undefined;
		if (d.tenants !== undefined) {
			if (!Array.isArray(d.tenants) || !d.tenants.every((t) => typeof t === "string" && (t === "" || TENANT_NAME.test(t)))) {
				throw new ConfigError(`${where}.tenants must be an array of tenant names ("" is the default tenant)`);
			}
			tenants = d.tenants as string[];
		}
		return { name: d.name, endpoint: url.toString(), encoding, compression, headers, headersSecret, tenants };
	});
}

/**
 * `key1=value1,key2=value2`, as OTEL_EXPORTER_OTLP_HEADERS (OpenTelemetry specification,
 * "Specifying headers via environment variables"): values are percent-decoded, so a comma or an
 * equals sign inside one is written %2C / %3D.
 */
export function parseHeaders(raw: string, what: string): Record<string, string> {
	const headers: Record<string, string> = {};
	for (const item of raw.split(",")) {
		if (item.trim() === "") continue;
		const eq = item.indexOf("=");
		if (eq <= 0) throw new ConfigError(`${what}: expected key=value pairs separated by commas (the OTEL_EXPORTER_OTLP_HEADERS form)`);
		const name = item.slice(0, eq).trim().toLowerCase();
		let value = item.slice(eq + 1).trim();
		try {
			value = decodeURIComponent(value);
		} catch {
			// Not percent-encoded after all: taken as written.
		}
		if (!/^[!#$%&'*+.^_`|~0-9a-z-]+$/.test(name)) throw new ConfigError(`${what}: ${JSON.stringify(name)} is not a header name`);
		if (RESERVED_HEADERS.has(name)) throw new ConfigError(`${what}: ${name} is set by the forwarder itself`);
		headers[name] = value;
	}
	return headers;
}

/** Destinations that take `tenant`'s traces. */
export function destinationsFor(config: ForwardConfig, tenant: string): Destination[] {
	return config.destinations.filter((d) => d.tenants === undefined || d.tenants.includes(tenant));
}

