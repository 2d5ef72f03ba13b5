// Splitting an export request by trace id. The router needs nothing else from a span, so both
// encodings go straight to per-trace protobuf bytes without building message objects.
import { encodeJsonRequest } from "../otlp/json-in";
import type { Encoding } from "../otlp/responses";
import { forEachSpan, inspectHead, inspectSpan, toHex, TracesDataWriter, WireError } from "../otlp/wire";
import { AssemblerError } from "../errors";

/** SQLite stores a row of at most 2 MB (Durable Object limits); a larger span cannot be kept. */
export const MAX_SPAN_BYTES = 2_000_000 - 1024;

export interface SplitRequest {
	/** Encoded TracesData per lowercase hex trace id. */
	readonly parts: Map<string, TracesDataWriter>;
	readonly rejected: number;
	/** Why spans were rejected, most frequent first, for `partial_success.error_message`. */
	readonly rejectMessage: string;
}

/** Splits a decompressed body; throws 400 when it is not an export request at all. */
export function splitRequest(body: Uint8Array, encoding: Encoding): SplitRequest {
	const parts = new Map<string, TracesDataWriter>();
	const reasons = new Map<string, number>();
	const reject = (reason: string, count: number) => {
		if (count > 0) reasons.set(reason, (reasons.get(reason) ?? 0) + count);
	};
	const accept = (resourceHead: Uint8Array, scopeHead: Uint8Array, span: Uint8Array, traceId: string) => {
		if (span.length > MAX_SPAN_BYTES) return reject(`span larger than ${MAX_SPAN_BYTES} bytes (the storage row limit)`, 1);
		let part = parts.get(traceId);
		if (!part) parts.set(traceId, (part = new TracesDataWriter()));
		part.add(resourceHead, scopeHead, span);
	};

	if (encoding === "protobuf") {
		// Heads repeat for every span of a group: check each once.
		const headProblems = new Map<Uint8Array, string | undefined>();
		const headProblem = (head: Uint8Array, kind: "resource" | "scope") => {
			if (!headProblems.has(head)) headProblems.set(head, inspectHead(head, kind));
			return headProblems.get(head);
		};
		try {
			forEachSpan(body, (resourceHead, scopeHead, span) => {
				const problem = headProblem(resourceHead, "resource") ?? headProblem(scopeHead, "scope");
				if (problem) return reject(problem, 1);
				const ids = inspectSpan(span);
				if (typeof ids === "string") reject(ids, 1);
				else accept(resourceHead, scopeHead, span, toHex(ids.traceId));
			});
		} catch (e) {
			if (e instanceof WireError) throw new AssemblerError("invalid", `undecodable ExportTraceServiceRequest: ${e.message}`);
			throw e;
		}
	} else {
		let doc: unknown;
		try {
			doc = JSON.parse(new TextDecoder().decode(body));
		} catch (e) {
			throw new AssemblerError("invalid", `request body is not valid JSON: ${e instanceof Error ? e.message : String(e)}`);
		}
		const problem = encodeJsonRequest(doc, accept, reject);
		if (problem) throw new AssemblerError("invalid", `not an OTLP/JSON ExportTraceServiceRequest: ${problem}`);
	}

	let rejected = 0;
	for (const count of reasons.values()) rejected += count;
	const rejectMessage = [...reasons]
		.sort((a, b) => b[1] - a[1])
		.map(([reason, count]) => `${count} ${count === 1 ? "span" : "spans"}: ${reason}`)
		.join("; ");
	return { parts, rejected, rejectMessage };
}
