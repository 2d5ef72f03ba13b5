// OTLP/HTTP response bodies, in the encoding of the request (OTLP spec, "OTLP/HTTP Response").
import { create, toBinary, toJsonString } from "@bufbuild/protobuf";
import { ExportTraceServiceResponseSchema } from "../gen/opentelemetry/proto/collector/trace/v1/trace_service_pb";
import { StatusSchema } from "../gen/google/rpc/status_pb";

export type Encoding = "protobuf" | "json";

export const CONTENT_TYPE: Record<Encoding, string> = {
	protobuf: "application/x-protobuf",
	json: "application/json",
};

/** `ExportTraceServiceResponse`, with `partial_success` set only when spans were rejected. */
export function exportResponse(encoding: Encoding, rejectedSpans: number, errorMessage: string): Response {
	const message = create(ExportTraceServiceResponseSchema, {
		partialSuccess: rejectedSpans > 0 || errorMessage ? { rejectedSpans: BigInt(rejectedSpans), errorMessage } : undefined,
	});
	const body = encoding === "json" ? toJsonString(ExportTraceServiceResponseSchema, message) : toBinary(ExportTraceServiceResponseSchema, message);
	return new Response(body, { status: 200, headers: { "content-type": CONTENT_TYPE[encoding] } });
}

/** A `google.rpc.Status` error body. */
export function statusBody(encoding: Encoding, code: number, message: string): BodyInit {
	const status = create(StatusSchema, { code, message });
	return encoding === "json" ? toJsonString(StatusSchema, status) : toBinary(StatusSchema, status);
}
