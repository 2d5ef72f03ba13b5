// One OTLP/HTTP export request to a destination: the piece's spans in the destination's encoding
// (protobuf, or OTLP/JSON), gzip unless it says "none", its headers from its secret.
import { tracesDataToJson } from "../otlp/json-out";
import type { Destination } from "./config";
import { classifyResponse, networkFailure, type Outcome } from "./otlp-result";

/** One attempt's budget; the Collector's exporter allows 30 s per request. */
const REQUEST_TIMEOUT_MS = 30_000;

export async function postTraces(destination: Destination, payload: Uint8Array, fetcher: typeof fetch = fetch): Promise<Outcome> {
	let body: Uint8Array = destination.encoding === "json" ? new TextEncoder().encode(JSON.stringify(tracesDataToJson(payload))) : payload;
	const headers: Record<string, string> = { ...destination.headers, "content-type": destination.encoding === "json" ? "application/json" : "application/x-protobuf" };
	if (destination.compression === "gzip") {
		body = new Uint8Array(await new Response(new Blob([body]).stream().pipeThrough(new CompressionStream("gzip"))).arrayBuffer());
		headers["content-encoding"] = "gzip";
	}
	let response: Response;
	try {
		response = await fetcher(destination.endpoint, { method: "POST", headers, body, signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
	} catch (e) {
		return networkFailure(e);
	}
	try {
		return await classifyResponse(response);
	} catch (e) {
		// The connection broke while the answer was read: the spec's "no response", retried.
		return networkFailure(e);
	}
}
