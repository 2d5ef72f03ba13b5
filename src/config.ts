// Every setting the Worker reads, validated once per environment with a message that names the
// variable. Defaults live here and, for discoverability, in wrangler.toml's [vars].
import { AssemblerError } from "./errors";
import { loadForwardConfig, type ForwardConfig, type ForwardEnv } from "./forward/config";

export interface Config {
	/** Finalize a trace after this long without a new span. */
	quietPeriodMs: number;
	/** Finalize a trace that keeps receiving spans this long after its first (pending) span. */
	maxTraceAgeMs: number;
	/** OTLP request bodies larger than this after decompression are refused with 413. */
	maxBodyBytes: number;
	/** R2 allows about one write per second to a key: rewrites of one trace are spaced this far. */
	minRewriteIntervalMs: number;
	/** How long a finalized trace's object remembers span ids and merges before freeing its storage. */
	retentionMs: number;
	/** How many trace objects one ingest request talks to at once. */
	ingestConcurrency: number;
	/** Calls one invocation may make (Workers' per-invocation subrequest limit); bigger requests go through relays. */
	maxSubrequests: number;
	/**
	 * Token-less callers: refused (false), read-only on the default tenant ("read"), or anything on
	 * the default tenant ("all", from "true": only allowed without AUTH_TOKENS, i.e. local use).
	 */
	allowAnonymous: false | "read" | "all";
	/** Raw AUTH_TOKENS secret; parsed by auth.ts. */
	authTokens: string;
	/** Spans beyond this many in one trace are rejected (partial success) and counted as dropped. */
	maxSpansPerTrace: number;
	/** Encoded spans beyond this many bytes in one trace are rejected likewise. */
	maxTraceBytes: number;
	/** Origins allowed to call the API from a browser; empty turns CORS off. */
	corsOrigins: string[];
	/** Span attribute keys that may hold a recorded W3C traceparent of the caller. */
	stitchAttributes: string[];
	/** Whether a root span's single link to another trace stitches the traces. */
	stitchLinks: boolean;
	/** The tenant whose traces the streaming tail consumer writes ("" is the default tenant). */
	tailTenant: string;
	/** How long a closed span of a still-running invocation may wait before the consumer sends it. */
	tailFlushIntervalMs: number;
	/**
	 * What the tail consumer does with an outside caller's `traceparent` request header (anyone can
	 * send one): merge once the claimed parent span exists in the parent trace, always, or never.
	 */
	tailStitchExternal: "verified" | "always" | "never";
	/** Whether the tail consumer replaces query values in recorded URLs with "REDACTED". */
	tailRedactQuery: boolean;
	// The search index's partitions (src/search/), issue 17.
	/** Width of an index time window (one set of partition objects per tenant and window). */
	searchPartitionMs: number;
	/** A partition writing more entries per second than this splits the window's further writes over more shards. */
	searchShardMaxWritesPerS: number;
	/** A partition storing more bytes than this splits likewise. */
	searchShardMaxBytes: number;
	/** Index windows older than this delete themselves; searches do not look past it. */
	indexRetentionMs: number;
	/** A failing index write is retried this long, then the trace is counted as unindexed. */
	indexRetryMs: number;
	/** Tail sampling and forwarding (src/forward/config.ts). */
	forward: ForwardConfig;
	/** TraceQL metrics: the longest range one query may cover (Tempo 3.0's default: 24 h). */
	metricsMaxRangeMs: number;
}

export interface ConfigEnv extends ForwardEnv {
	QUIET_PERIOD_MS?: string | number;
	MAX_TRACE_AGE_MS?: string | number;
	MAX_BODY_BYTES?: string | number;
	MIN_REWRITE_INTERVAL_MS?: string | number;
	RETENTION_MS?: string | number;
	INGEST_CONCURRENCY?: string | number;
	MAX_SUBREQUESTS?: string | number;
	ALLOW_ANONYMOUS?: string | boolean;
	AUTH_TOKENS?: string;
	MAX_SPANS_PER_TRACE?: string | number;
	MAX_TRACE_BYTES?: string | number;
	CORS_ORIGINS?: string;
	STITCH_ATTRIBUTES?: string;
	STITCH_LINKS?: string | boolean;
	TAIL_TENANT?: string;
	TAIL_FLUSH_INTERVAL_MS?: string | number;
	TAIL_STITCH_EXTERNAL?: string;
	TAIL_REDACT_QUERY?: string | boolean;
	SEARCH_PARTITION_MS?: string | number;
	SEARCH_SHARD_MAX_WRITES_PER_S?: string | number;
	SEARCH_SHARD_MAX_BYTES?: string | number;
	INDEX_RETENTION_MS?: string | number;
	INDEX_RETRY_MS?: string | number;
	METRICS_MAX_RANGE_MS?: string | number;
}

/** A bad variable; the HTTP edge answers 500 "server misconfigured: <message>". */
export class ConfigError extends AssemblerError {
	override name = "ConfigError";
	constructor(message: string) {
		super("misconfigured", message);
	}
}

const cache = new WeakMap<object, Config>();

/** The validated configuration; throws ConfigError naming the first bad variable. */
export function loadConfig(env: ConfigEnv): Config {
	let config = cache.get(env);
	if (!config) {
		config = {
			quietPeriodMs: integer(env, "QUIET_PERIOD_MS", 10_000, 1),
			maxTraceAgeMs: integer(env, "MAX_TRACE_AGE_MS", 60_000, 1),
			maxBodyBytes: integer(env, "MAX_BODY_BYTES", 8 * 1024 * 1024, 1024),
			minRewriteIntervalMs: integer(env, "MIN_REWRITE_INTERVAL_MS", 1_000, 0),
			retentionMs: integer(env, "RETENTION_MS", 86_400_000, 0),
			ingestConcurrency: integer(env, "INGEST_CONCURRENCY", 16, 1),
			// 2 at least: a trace known to be merged may take two calls (its parent, then its own object).
			maxSubrequests: integer(env, "MAX_SUBREQUESTS", 1_000, 2),
			allowAnonymous: anonymous(env),
			authTokens: typeof env.AUTH_TOKENS === "string" ? env.AUTH_TOKENS : "",
			maxSpansPerTrace: integer(env, "MAX_SPANS_PER_TRACE", 50_000, 1),
			maxTraceBytes: integer(env, "MAX_TRACE_BYTES", 16 * 1024 * 1024, 1024),
			corsOrigins: list(env, "CORS_ORIGINS", []),
			stitchAttributes: list(env, "STITCH_ATTRIBUTES", ["http.request.header.traceparent", "traceparent"]),
			stitchLinks: boolean(env, "STITCH_LINKS", true),
			tailTenant: tenant(env, "TAIL_TENANT"),
			tailFlushIntervalMs: integer(env, "TAIL_FLUSH_INTERVAL_MS", 5_000, 10),
			tailStitchExternal: oneOf(env, "TAIL_STITCH_EXTERNAL", ["verified", "always", "never"] as const),
			tailRedactQuery: boolean(env, "TAIL_REDACT_QUERY", false),
			searchPartitionMs: integer(env, "SEARCH_PARTITION_MS", 3_600_000, 1_000),
			searchShardMaxWritesPerS: integer(env, "SEARCH_SHARD_MAX_WRITES_PER_S", 250, 1),
			searchShardMaxBytes: integer(env, "SEARCH_SHARD_MAX_BYTES", 1_000_000_000, 1_000_000),
			indexRetentionMs: integer(env, "INDEX_RETENTION_MS", 30 * 86_400_000, 1_000),
			indexRetryMs: integer(env, "INDEX_RETRY_MS", 86_400_000, 0),
			forward: loadForwardConfig(env),
			metricsMaxRangeMs: integer(env, "METRICS_MAX_RANGE_MS", 86_400_000, 1_000),
		};
		cache.set(env, config);
	}
	return config;
}

/** loadConfig for request handlers: a bad variable is logged, and the edge answers 500 naming it. */
export function configFor(env: ConfigEnv): Config {
	try {
		return loadConfig(env);
	} catch (e) {
		if (e instanceof ConfigError) console.error(`trace-assembler: ${e.message}`);
		throw e;
	}
}

function anonymous(env: ConfigEnv): false | "read" | "all" {
	const raw = env.ALLOW_ANONYMOUS;
	if (raw === "read") return "read";
	let open: boolean;
	try {
		open = boolean(env, "ALLOW_ANONYMOUS", false);
	} catch {
		throw new ConfigError(`ALLOW_ANONYMOUS must be "true", "read" or "false" (got ${JSON.stringify(raw)})`);
	}
	if (!open) return false;
	// Tokens say the deployment is protected; "true" beside them would hand every token-less caller
	// full read and write on the default tenant. Refused rather than guessed at.
	if (typeof env.AUTH_TOKENS === "string" && env.AUTH_TOKENS.trim() !== "") {
		throw new ConfigError(
			'ALLOW_ANONYMOUS=true cannot be combined with AUTH_TOKENS (token-less callers would get full read and write on the default tenant): set ALLOW_ANONYMOUS=read for anonymous read-only access, or "false"',
		);
	}
	return "all";
}

function integer(env: ConfigEnv, name: keyof ConfigEnv, fallback: number, min: number): number {
	return wholeNumber(env[name] as string | number | undefined, name, fallback, min);
}

/** A variable holding a whole number of at least `min`; `fallback` when unset. */
export function wholeNumber(raw: string | number | undefined, name: string, fallback: number, min: number): number {
	if (raw === undefined || raw === "") return fallback;
	const value = typeof raw === "number" ? raw : /^\s*\d+\s*$/.test(String(raw)) ? Number(raw) : Number.NaN;
	if (!Number.isSafeInteger(value) || value < min) {
		throw new ConfigError(`${name} must be a whole number of at least ${min} (got ${JSON.stringify(raw)})`);
	}
	return value;
}

function boolean(env: ConfigEnv, name: keyof ConfigEnv, fallback: boolean): boolean {
	const raw = env[name];
	if (raw === undefined || raw === "") return fallback;
	if (raw === true || raw === "true") return true;
	if (raw === false || raw === "false") return false;
	throw new ConfigError(`${name} must be "true" or "false" (got ${JSON.stringify(raw)})`);
}

/** One of `values`; the first is the default. */
function oneOf<const T extends string>(env: ConfigEnv, name: keyof ConfigEnv, values: readonly T[]): T {
	const raw = env[name];
	if (raw === undefined || raw === "") return values[0]!;
	if (typeof raw === "string" && (values as readonly string[]).includes(raw)) return raw as T;
	throw new ConfigError(`${name} must be one of ${values.map((v) => `"${v}"`).join(", ")} (got ${JSON.stringify(raw)})`);
}

function list(env: ConfigEnv, name: keyof ConfigEnv, fallback: string[]): string[] {
	const raw = env[name];
	if (raw === undefined) return fallback;
	if (typeof raw !== "string") throw new ConfigError(`${name} must be a comma-separated list (got ${JSON.stringify(raw)})`);
	return raw.split(",").map((item) => item.trim()).filter(Boolean);
}

/** Tenant names as in AUTH_TOKENS: 1-64 letters, digits, '.', '_' or '-'; "" is the default tenant. */
export const TENANT_NAME = /^[A-Za-z0-9._-]{1,64}$/;

function tenant(env: ConfigEnv, name: keyof ConfigEnv): string {
	const raw = env[name];
	if (raw === undefined || raw === "") return "";
	if (typeof raw !== "string" || !TENANT_NAME.test(raw)) throw new ConfigError(`${name} must be 1-64 letters, digits, '.', '_' or '-' (got ${JSON.stringify(raw)})`);
	return raw;
}
