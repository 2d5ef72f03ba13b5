// How an OTLP/HTTP answer is treated, as the OTLP specification says ("OTLP/HTTP Response"):
// 2xx is delivered (a populated partial_success is counted, never retried); 429, 502, 503, 504 and
// a connection that failed or gave no answer are retried with exponential backoff, honouring
// Retry-After (seconds or an HTTP-date) on 429/503; every other status is permanent.
import { fromBinary, fromJsonString } from "@bufbuild/protobuf";
import { ExportTraceServiceResponseSchema } from "../gen/opentelemetry/proto/collector/trace/v1/trace_service_pb";

export type Outcome =
	| { kind: "delivered"; rejectedSpans: number; message: string }
	| { kind: "retry"; status: number; reason: string; retryAfterS?: number }
	| { kind: "permanent"; status: number; reason: string };

const RETRYABLE = new Set([429, 502, 503, 504]);
/** The spec recommends capping response bodies (4 MiB); only the start is kept for logs and the DLQ. */
const REASON_MAX_CHARS = 1_024;

export async function classifyResponse(response: Response, now = Date.now()): Promise<Outcome> {
	const body = new Uint8Array(await response.arrayBuffer());
	if (response.status >= 200 && response.status < 300) {
		const partial = partialSuccess(body, response.headers.get("content-type") ?? "");
		return { kind: "delivered", rejectedSpans: partial.rejectedSpans, message: partial.message };
	}
	const reason = `${response.status} ${response.statusText}: ${new TextDecoder().decode(body.subarray(0, REASON_MAX_CHARS * 4)).slice(0, REASON_MAX_CHARS)}`.trim();
	if (!RETRYABLE.has(response.status)) return { kind: "permanent", status: response.status, reason };
	return { kind: "retry", status: response.status, reason, retryAfterS: retryAfterSeconds(response.headers.get("retry-after"), now) };
}

/** A network error or timeout: the OTLP spec says retry (no response is a retryable failure). */
export function networkFailure(error: unknown): Outcome {
	return { kind: "retry", status: 0, reason: `network error: ${error instanceof Error ? error.message : String(error)}`.slice(0, REASON_MAX_CHARS) };
}

/** `Retry-After`: delay-seconds or an HTTP-date (RFC 9110 §10.2.3); undefined when absent or unreadable. */
export function retryAfterSeconds(header: string | null, now = Date.now()): number | undefined {
	if (!header) return undefined;
	const trimmed = header.trim();
	if (/^\d+$/.test(trimmed)) return Number(trimmed);
	const at = Date.parse(trimmed);
	if (Number.isNaN(at)) return undefined;
	return Math.max(0, Math.ceil((at - now) / 1000));
}

/** Exponential backoff with jitter from 2 s, capped; `attempts` counts deliveries so far (1 = first). */
export function backoffSeconds(attempts: number, maxDelayS: number, random = Math.random): number {
	const base = Math.min(2 * 1.5 ** Math.max(0, attempts - 1), maxDelayS);
	return Math.max(1, Math.min(maxDelayS, Math.round(base * (0.75 + random() * 0.5))));
}

function partialSuccess(body: Uint8Array, contentType: string): { rejectedSpans: number; message: string } {
	if (body.length === 0) return { rejectedSpans: 0, message: "" };
	try {
		const response = /json/i.test(contentType) ? fromJsonString(ExportTraceServiceResponseSchema, new TextDecoder().decode(body), { ignoreUnknownFields: true }) : fromBinary(ExportTraceServiceResponseSchema, body);
		return { rejectedSpans: Number(response.partialSuccess?.rejectedSpans ?? 0n), message: response.partialSuccess?.errorMessage ?? "" };
	} catch {
		// A 2xx is a success whatever its body says (the Collector's exporter does the same).
		return { rejectedSpans: 0, message: "" };
	}
}
