// Protobuf bytes to OTLP/JSON. protobuf-es writes proto3 JSON; OTLP/JSON differs in that trace and
// span ids are hex, not base64, and enums are integers (OTLP spec, "JSON Protobuf Encoding").
import { fromBinary, toJson, type JsonObject, type JsonValue } from "@bufbuild/protobuf";
import { base64Decode } from "@bufbuild/protobuf/wire";
import { TracesDataSchema } from "../gen/opentelemetry/proto/trace/v1/trace_pb";
import { toHex } from "./wire";

/** `{"resourceSpans": [...]}` for an encoded TracesData. */
export function tracesDataToJson(encoded: Uint8Array): JsonObject {
	const json = toJson(TracesDataSchema, fromBinary(TracesDataSchema, encoded), { enumAsInteger: true }) as JsonObject;
	for (const rs of array(json.resourceSpans)) {
		for (const ss of array((rs as JsonObject).scopeSpans)) {
			for (const span of array((ss as JsonObject).spans)) {
				const s = span as JsonObject;
				hexIds(s, "traceId", "spanId", "parentSpanId");
				for (const link of array(s.links)) hexIds(link as JsonObject, "traceId", "spanId");
			}
		}
	}
	json.resourceSpans ??= [];
	return json;
}

function hexIds(o: JsonObject, ...keys: string[]): void {
	for (const key of keys) {
		const v = o[key];
		if (typeof v === "string") o[key] = toHex(base64Decode(v));
	}
}

function array(v: JsonValue | undefined): JsonValue[] {
	return Array.isArray(v) ? v : [];
}
