// Tail spans to the encoded OTLP TracesData the per-trace objects store, with the resource
// attributes Cloudflare puts on its automatic spans.
import { create, toBinary, type MessageInitShape } from "@bufbuild/protobuf";
import { AnyValueSchema } from "../gen/opentelemetry/proto/common/v1/common_pb";
import { TracesDataSchema } from "../gen/opentelemetry/proto/trace/v1/trace_pb";
import { fromHex } from "../otlp/wire";
import type { Invocation, TailSpan } from "./invocation";
import type { TailValue } from "./limits";

type AnyValueInit = MessageInitShape<typeof AnyValueSchema>;
const INT64_MAX = 2n ** 63n - 1n;
const INT64_MIN = -(2n ** 63n);

/** The scope every tail span is reported under. */
export const TAIL_SCOPE = "workers-trace-assembler/tail";

export function encodeSpans(invocation: Invocation, spans: readonly TailSpan[]): Uint8Array {
	const traceId = ids(invocation.traceId);
	const resource: [string, TailValue][] = [
		["service.name", invocation.script],
		["cloud.provider", "cloudflare"],
		["cloud.platform", "cloudflare.workers"],
		["faas.name", invocation.script],
		["telemetry.sdk.language", "javascript"],
		["telemetry.sdk.name", "cloudflare"],
	];
	if (invocation.scriptVersion) resource.push(["faas.version", invocation.scriptVersion]);
	return toBinary(
		TracesDataSchema,
		create(TracesDataSchema, {
			resourceSpans: [{
				resource: { attributes: keyValues(resource) },
				scopeSpans: [{
					scope: { name: TAIL_SCOPE },
					spans: spans.map((span) => ({
						traceId,
						spanId: ids(span.spanId),
						...(span.parentSpanId ? { parentSpanId: ids(span.parentSpanId) } : {}),
						name: span.name,
						kind: span.kind,
						startTimeUnixNano: nanos(span.startMs),
						endTimeUnixNano: nanos(span.endMs ?? span.startMs),
						attributes: keyValues(span.attributes),
						events: span.events.map((event) => ({ name: event.name, timeUnixNano: nanos(event.timeMs), attributes: keyValues(event.attributes) })),
						links: span.links.map((link) => ({ traceId: ids(link.traceId), spanId: ids(link.spanId), ...(link.traceState ? { traceState: link.traceState } : {}), attributes: keyValues(link.attributes) })),
						status: { code: span.status.code, ...(span.status.message ? { message: span.status.message } : {}) },
					})),
				}],
			}],
		}),
	);
}

function ids(hex: string): Uint8Array {
	// Invocation checked the shape of every id it kept.
	return fromHex(hex)!;
}

function nanos(ms: number): bigint {
	return BigInt(Math.round(ms * 1000)) * 1000n;
}

function keyValues(attributes: Iterable<[string, TailValue]>) {
	return [...attributes].map(([key, value]) => ({ key, value: anyValue(value) }));
}

function anyValue(value: TailValue | string | number | boolean | bigint): AnyValueInit {
	if (Array.isArray(value)) return { value: { case: "arrayValue", value: { values: value.map((v) => anyValue(v)) } } };
	switch (typeof value) {
		case "string":
			return { value: { case: "stringValue", value } };
		case "boolean":
			return { value: { case: "boolValue", value } };
		case "bigint":
			return { value: { case: "intValue", value: value > INT64_MAX ? INT64_MAX : value < INT64_MIN ? INT64_MIN : value } };
		case "number":
			return Number.isSafeInteger(value) ? { value: { case: "intValue", value: BigInt(value) } } : { value: { case: "doubleValue", value } };
		default:
			return { value: { case: "stringValue", value: String(value) } };
	}
}
