// The invocation span an onset opens, named and attributed like the root spans of Cloudflare's
// automatic tracing (cloudflare.script_name, cloudflare.entrypoint, faas.trigger, url.full, ...),
// plus the caller's `traceparent` when the request came from outside Cloudflare.
import { Span_SpanKind as SpanKind } from "../gen/opentelemetry/proto/trace/v1/trace_pb";
import { parseTraceparent, type ParentContext } from "../stitch/traceparent";
import { EXTERNAL_STITCH_ATTRIBUTE } from "../stitch/detect";
import type { TailValue } from "./limits";

export interface InvocationSpan {
	name: string;
	kind: SpanKind;
	attributes: [string, TailValue][];
	/** The external caller from a recorded `traceparent`, when it names another trace. */
	caller?: ParentContext;
}

// OpenTelemetry's faas.trigger values for each handler the runtime reports.
const TRIGGERS: Record<string, string> = { fetch: "http", connect: "other", jsrpc: "other", scheduled: "timer", alarm: "timer", queue: "pubsub", email: "other", trace: "other", hibernatableWebSocket: "other", onHibernate: "other", custom: "other" };

// The request headers Cloudflare's automatic fetch spans record; nothing else, since headers may
// carry credentials.
const RECORDED_HEADERS = ["accept", "accept-encoding", "accept-language"];

/** `wrangler dev` leaves scriptName out; OpenTelemetry's name for an unknown service then applies. */
export const UNKNOWN_SCRIPT = "unknown_service:worker";

export interface OnsetOptions {
	/** TAIL_STITCH_EXTERNAL: how far an outside caller's traceparent header is trusted. */
	stitchExternal: "verified" | "always" | "never";
	/** TAIL_REDACT_QUERY: query values in `url.full` become "REDACTED". */
	redactQuery: boolean;
}

export const DEFAULT_ONSET_OPTIONS: OnsetOptions = { stitchExternal: "verified", redactQuery: false };

export function invocationSpan(onset: TailStream.TailEvent<TailStream.Onset>, options: OnsetOptions = DEFAULT_ONSET_OPTIONS): InvocationSpan {
	const event = onset.event;
	const info = event.info;
	const attributes: [string, TailValue][] = [
		["cloudflare.script_name", event.scriptName ?? UNKNOWN_SCRIPT],
		["cloudflare.execution_model", event.executionModel],
		["cloudflare.handler_type", info.type],
		["faas.trigger", TRIGGERS[info.type] ?? "other"],
		["faas.invocation_id", onset.invocationId],
	];
	if (event.entrypoint) attributes.push(["cloudflare.entrypoint", event.entrypoint]);
	if (event.durableObjectId) attributes.push(["cloudflare.durable_object.id", event.durableObjectId]);
	if (event.scriptVersion?.id) attributes.push(["cloudflare.script_version.id", event.scriptVersion.id]);
	if (event.dispatchNamespace) attributes.push(["cloudflare.dispatch_namespace", event.dispatchNamespace]);
	let kind = SpanKind.INTERNAL;
	let caller: ParentContext | undefined;
	switch (info.type) {
		case "fetch": {
			kind = SpanKind.SERVER;
			const header = (name: string) => info.headers.find((h) => h.name.toLowerCase() === name)?.value;
			attributes.push(["http.request.method", info.method], ["url.full", options.redactQuery ? redactQuery(info.url) : info.url]);
			const path = pathOf(info.url);
			if (path) attributes.push(["url.path", path]);
			const colo = (info.cfJson as { colo?: unknown } | undefined)?.colo;
			if (typeof colo === "string") attributes.push(["cloudflare.colo", colo]);
			const ray = header("cf-ray");
			if (ray) attributes.push(["cloudflare.ray_id", ray]);
			const userAgent = header("user-agent");
			if (userAgent) attributes.push(["user_agent.original", userAgent]);
			for (const name of RECORDED_HEADERS) {
				const value = header(name);
				if (value !== undefined) attributes.push([`http.request.header.${name}`, value]);
			}
			// The runtime does not honour an incoming traceparent: an invocation that inherited no
			// context starts a trace of its own. Recording the header (as an array of one string, the
			// OTel convention for request headers) lets the stitching rules hang that trace under its
			// external caller. An invocation that did inherit context was called by a Worker the
			// runtime has linked already, which may well have forwarded the original header.
			const traceparent = header("traceparent");
			// Anyone on the internet can send that header, naming any trace: unless TAIL_STITCH_EXTERNAL
			// is "always", the span says so (EXTERNAL_STITCH_ATTRIBUTE) and the objects merge only a
			// verified claim ("verified": the named parent span exists) or none ("never").
			if (traceparent && !onset.spanContext.spanId) {
				attributes.push(["http.request.header.traceparent", [traceparent]]);
				if (options.stitchExternal !== "always") attributes.push([EXTERNAL_STITCH_ATTRIBUTE, options.stitchExternal]);
				const parsed = parseTraceparent(traceparent);
				if (parsed && parsed.traceId !== onset.spanContext.traceId.toLowerCase() && options.stitchExternal !== "never") caller = parsed;
			}
			break;
		}
		case "jsrpc":
			kind = SpanKind.SERVER;
			break;
		case "scheduled":
			attributes.push(["faas.cron", info.cron]);
			break;
		case "queue":
			kind = SpanKind.CONSUMER;
			attributes.push(["messaging.destination.name", info.queueName], ["messaging.batch.message_count", info.batchSize]);
			break;
	}
	// What the runtime attached to the onset itself wins over what was derived above.
	for (const attribute of event.attributes ?? []) attributes.push([attribute.name, attribute.value]);
	return { name: spanName(info), kind, attributes, ...(caller ? { caller } : {}) };
}

/** The handler type, or for a hibernated WebSocket the Durable Object method that ran. */
function spanName(info: TailStream.Onset["info"]): string {
	if (info.type !== "hibernatableWebSocket") return info.type;
	const which = String(info.info?.type ?? "event");
	return `webSocket${which.charAt(0).toUpperCase()}${which.slice(1)}`;
}

/** `url` with every query value replaced by "REDACTED" (names kept: they say what was asked). */
export function redactQuery(url: string): string {
	const query = url.indexOf("?");
	if (query < 0) return url;
	const hash = url.indexOf("#", query);
	const end = hash < 0 ? url.length : hash;
	const redacted = url
		.slice(query + 1, end)
		.split("&")
		.map((pair) => {
			const eq = pair.indexOf("=");
			return eq < 0 ? pair : `${pair.slice(0, eq)}=REDACTED`;
		})
		.join("&");
	// The fragment never reaches a server; drop it rather than judge what it holds.
	return `${url.slice(0, query)}?${redacted}`;
}

function pathOf(url: string): string | undefined {
	try {
		return new URL(url).pathname;
	} catch {
		return undefined;
	}
}
