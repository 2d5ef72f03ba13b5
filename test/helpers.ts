// Builders for OTLP requests and small helpers shared by the workerd tests.
import { create, fromBinary, toBinary, type MessageInitShape } from "@bufbuild/protobuf";
import { env, exports } from "cloudflare:workers";
import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { afterEach } from "vitest";
import { spanIdentity } from "../src/otlp/span-facts";
import { forEachSpan, toHex } from "../src/otlp/wire";
import { ExportTraceServiceRequestSchema } from "../src/gen/opentelemetry/proto/collector/trace/v1/trace_service_pb";
import { SpanSchema, TracesDataSchema, type TracesData } from "../src/gen/opentelemetry/proto/trace/v1/trace_pb";
import { objectName } from "../src/trace-address";

export const BASE = "http://assembler.test";
/** Sent by every helper unless a test passes its own `authorization`. */
export const AUTH = { authorization: "Bearer test-token" };

let counter = 0;
/** A fresh random-looking id of `bytes` bytes as lowercase hex (unique within a test run). */
export function randomHex(bytes: number): string {
	const b = crypto.getRandomValues(new Uint8Array(bytes));
	b[0] = (b[0]! | 1) ^ (++counter & 0xfe);
	return [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
}

export interface SpanSpec {
	traceId: string;
	spanId: string;
	parentSpanId?: string;
	name?: string;
	service?: string;
	scope?: string;
	kind?: number;
	startNs?: bigint;
	endNs?: bigint;
	attributes?: Record<string, string | number | boolean | string[]>;
	statusCode?: number;
	links?: { traceId: string; spanId: string }[];
}

function anyValue(v: string | number | boolean | string[]): Record<string, unknown> {
	if (Array.isArray(v)) return { arrayValue: { values: v.map((s) => ({ stringValue: s })) } };
	if (typeof v === "string") return { stringValue: v };
	if (typeof v === "boolean") return { boolValue: v };
	return Number.isInteger(v) ? { intValue: String(v) } : { doubleValue: v };
}

/** An OTLP/JSON export request with one resource (per service) and one scope (per scope name) group. */
export function jsonRequest(spans: SpanSpec[]): Record<string, unknown> {
	const byService = new Map<string, Map<string, SpanSpec[]>>();
	for (const span of spans) {
		const service = span.service ?? "svc";
		const scope = span.scope ?? "test-scope";
		let scopes = byService.get(service);
		if (!scopes) byService.set(service, (scopes = new Map()));
		let list = scopes.get(scope);
		if (!list) scopes.set(scope, (list = []));
		list.push(span);
	}
	return {
		resourceSpans: [...byService].map(([service, scopes]) => ({
			resource: { attributes: [{ key: "service.name", value: { stringValue: service } }] },
			scopeSpans: [...scopes].map(([scope, list]) => ({
				scope: { name: scope, version: "1.0.0" },
				spans: list.map((s) => ({
					traceId: s.traceId,
					spanId: s.spanId,
					...(s.parentSpanId ? { parentSpanId: s.parentSpanId } : {}),
					name: s.name ?? "span",
					kind: s.kind ?? 1,
					startTimeUnixNano: String(s.startNs ?? 1_700_000_000_000_000_000n),
					endTimeUnixNano: String(s.endNs ?? 1_700_000_000_500_000_000n),
					attributes: Object.entries(s.attributes ?? {}).map(([key, value]) => ({ key, value: anyValue(value) })),
					...(s.links ? { links: s.links } : {}),
					status: { code: s.statusCode ?? 0 },
				})),
			})),
		})),
	};
}

/** The same request as protobuf bytes (built through the generated schema, like an SDK would). */
export function protobufRequest(spans: SpanSpec[]): Uint8Array {
	const json = jsonRequest(spans) as { resourceSpans: { scopeSpans: { spans: Record<string, unknown>[] }[] }[] };
	const init: MessageInitShape<typeof ExportTraceServiceRequestSchema> = {
		resourceSpans: json.resourceSpans.map((rs) => ({
			resource: { attributes: [{ key: "service.name", value: { value: { case: "stringValue", value: (rs as any).resource.attributes[0].value.stringValue } } }] },
			scopeSpans: rs.scopeSpans.map((ss) => ({
				scope: { name: (ss as any).scope.name, version: "1.0.0" },
				spans: ss.spans.map((s) => protoSpan(s)),
			})),
		})),
	};
	return toBinary(ExportTraceServiceRequestSchema, create(ExportTraceServiceRequestSchema, init));
}

function hexBytes(hex: string): Uint8Array {
	return new Uint8Array(hex.match(/../g)!.map((h) => parseInt(h, 16)));
}

function protoSpan(s: Record<string, any>) {
	return create(SpanSchema, {
		traceId: hexBytes(s.traceId),
		spanId: hexBytes(s.spanId),
		parentSpanId: s.parentSpanId ? hexBytes(s.parentSpanId) : new Uint8Array(),
		name: s.name,
		kind: s.kind,
		startTimeUnixNano: BigInt(s.startTimeUnixNano),
		endTimeUnixNano: BigInt(s.endTimeUnixNano),
		attributes: s.attributes.map((a: any) => ({
			key: a.key,
			value: {
				value: a.value.stringValue !== undefined
					? { case: "stringValue", value: a.value.stringValue }
					: a.value.boolValue !== undefined
						? { case: "boolValue", value: a.value.boolValue }
						: a.value.intValue !== undefined
							? { case: "intValue", value: BigInt(a.value.intValue) }
							: a.value.doubleValue !== undefined
								? { case: "doubleValue", value: a.value.doubleValue }
								: { case: "arrayValue", value: { values: a.value.arrayValue.values.map((v: any) => ({ value: { case: "stringValue", value: v.stringValue } })) } },
			},
		})),
		links: (s.links ?? []).map((l: any) => ({ traceId: hexBytes(l.traceId), spanId: hexBytes(l.spanId) })),
		status: { code: s.status.code },
	});
}

/** POSTs an export request through the Worker's fetch handler. */
export function postTraces(
	body: BodyInit | Record<string, unknown>,
	init: { contentType?: string; headers?: Record<string, string> } = {},
): Promise<Response> {
	const isJsonObject = typeof body === "object" && body !== null && !(body instanceof Uint8Array) && !(body instanceof ArrayBuffer) && !(body instanceof ReadableStream);
	return exports.default.fetch(
		new Request(`${BASE}/v1/traces`, {
			method: "POST",
			headers: {
				"content-type": init.contentType ?? (isJsonObject || typeof body === "string" ? "application/json" : "application/x-protobuf"),
				...AUTH,
				...init.headers,
			},
			body: isJsonObject ? JSON.stringify(body) : (body as BodyInit),
		}),
	);
}

export function getTrace(traceId: string, headers: Record<string, string> = {}): Promise<Response> {
	return exports.default.fetch(new Request(`${BASE}/v1/traces/${traceId}`, { headers: { ...AUTH, ...headers }, redirect: "manual" }));
}

/** The trace as read back in protobuf, decoded. */
export async function readTrace(traceId: string, headers: Record<string, string> = {}): Promise<{ status: string | null; trace: TracesData }> {
	const response = await getTrace(traceId, { accept: "application/x-protobuf", ...headers });
	if (response.status !== 200) throw new Error(`read ${traceId}: ${response.status} ${await response.text()}`);
	return { status: response.headers.get("x-trace-status"), trace: fromBinary(TracesDataSchema, new Uint8Array(await response.arrayBuffer())) };
}

/** Span ids (hex) of a decoded trace, sorted. */
export function spanIds(trace: TracesData): string[] {
	return trace.resourceSpans
		.flatMap((rs) => rs.scopeSpans.flatMap((ss) => ss.spans))
		.map((s) => [...s.spanId].map((b) => b.toString(16).padStart(2, "0")).join(""))
		.sort();
}

export function stubFor(traceId: string, tenant = "") {
	return env.TRACE_ASSEMBLER.getByName(objectName({ tenant, traceId }));
}

/** Runs the trace object's pending alarm now (finalization), as the platform would. */
export function finalizeNow(traceId: string, tenant = ""): Promise<boolean> {
	return runDurableObjectAlarm(stubFor(traceId, tenant));
}

export function r2KeyOf(traceId: string): string {
	return `traces/${traceId}.binpb`;
}

/**
 * Holds every R2 `put` at a gate until `release()`, so a test can act while a finalization's write
 * is in flight; `restore()` puts R2 back as it was.
 */
export function holdR2Puts(): { release: () => void; restore: () => void } {
	const bucket = Object.getPrototypeOf(env.TRACES) as R2Bucket;
	const put = bucket.put;
	let release!: () => void;
	const gate = new Promise<void>((r) => (release = r));
	bucket.put = async function (this: R2Bucket, ...args: Parameters<R2Bucket["put"]>) {
		await gate;
		return put.apply(this, args);
	} as R2Bucket["put"];
	return { release, restore: () => void (bucket.put = put) };
}

/**
 * What the trace's object holds in storage: one entry per span stored in its part rows (original
 * trace id + span id, hex), in row order. De-duplication is judged here, not on reads: a read or an
 * R2 write de-duplicates again and would hide a span stored twice.
 */
export async function storedSpanIdentities(traceId: string, tenant = ""): Promise<string[]> {
	return runInDurableObject(stubFor(traceId, tenant), (_instance, state) => {
		const tables = state.storage.sql.exec("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'parts'").toArray();
		if (tables.length === 0) return [];
		const identities: string[] = [];
		for (const row of state.storage.sql.exec<{ spans: ArrayBuffer | null }>("SELECT spans FROM parts WHERE seq > 0 ORDER BY seq")) {
			if (row.spans) forEachSpan(new Uint8Array(row.spans), (_resource, _scope, body) => identities.push(toHex(spanIdentity(body))));
		}
		return identities;
	});
}

/** Replaces `target[key]` with `replacement(original)` until the running test ends. */
export type Patch = <T extends object, K extends keyof T>(target: T, key: K, replacement: (original: T[K]) => T[K]) => void;

/**
 * Method patches for fault injection (usually on a Durable Object class's prototype), undone after
 * every test; `restore()` undoes them early. Call once at a test file's top level.
 */
export function methodPatches(): { patch: Patch; restore: () => void } {
	const undo: (() => void)[] = [];
	const restore = () => undo.splice(0).reverse().forEach((step) => step());
	afterEach(restore);
	const patch: Patch = (target, key, replacement) => {
		const original = target[key];
		target[key] = replacement(original);
		undo.push(() => (target[key] = original));
	};
	return { patch, restore };
}
