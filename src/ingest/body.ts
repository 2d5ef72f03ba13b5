// Reading an OTLP/HTTP request body: content type, content encoding, and the size limit, which
// OTLP/HTTP measures after decompression (so a gzip bomb is stopped as it inflates).
import { AssemblerError } from "../errors";
import type { Encoding } from "../otlp/responses";

/** The request's OTLP encoding from Content-Type; 415 for anything else. */
export function requestEncoding(request: Request): Encoding {
	const type = (request.headers.get("content-type") ?? "").split(";")[0]!.trim().toLowerCase();
	if (type === "application/x-protobuf" || type === "application/protobuf") return "protobuf";
	if (type === "application/json") return "json";
	throw new AssemblerError(
		"unsupported-media",
		`unsupported Content-Type ${JSON.stringify(type)}: send application/x-protobuf or application/json (OTLP/HTTP)`,
	);
}

/** The whole body, decompressed, or 413 as soon as it exceeds `maxBytes`. */
export async function readBody(request: Request, maxBytes: number): Promise<Uint8Array> {
	const encoding = (request.headers.get("content-encoding") ?? "identity").trim().toLowerCase();
	const declared = Number(request.headers.get("content-length") ?? Number.NaN);
	if (encoding === "identity" && declared > maxBytes) throw tooLarge(maxBytes);
	if (!request.body) return new Uint8Array(0);
	let stream: ReadableStream<Uint8Array> = request.body;
	if (encoding === "gzip" || encoding === "x-gzip") stream = stream.pipeThrough(new DecompressionStream("gzip"));
	else if (encoding === "deflate") stream = stream.pipeThrough(new DecompressionStream("deflate"));
	else if (encoding !== "identity") {
		throw new AssemblerError("unsupported-media", `unsupported Content-Encoding ${JSON.stringify(encoding)}: send gzip, deflate or none`);
	}
	const chunks: Uint8Array[] = [];
	let total = 0;
	const reader = stream.getReader();
	try {
		for (;;) {
			const { done, value } = await reader.read();
			if (done) break;
			total += value.byteLength;
			if (total > maxBytes) {
				// Cancel rather than drain: the rest of an oversized body is never read.
				await reader.cancel().catch(() => {});
				throw tooLarge(maxBytes);
			}
			chunks.push(value);
		}
	} catch (e) {
		if (e instanceof AssemblerError) throw e;
		throw new AssemblerError("invalid", `could not read the ${encoding} request body: ${e instanceof Error ? e.message : String(e)}`);
	}
	if (chunks.length === 1) return chunks[0]!;
	const body = new Uint8Array(total);
	let pos = 0;
	for (const chunk of chunks) {
		body.set(chunk, pos);
		pos += chunk.byteLength;
	}
	return body;
}

function tooLarge(maxBytes: number): AssemblerError {
	return new AssemblerError("too-large", `request body exceeds MAX_BODY_BYTES (${maxBytes} bytes after decompression); send smaller batches`);
}
