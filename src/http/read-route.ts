// GET (and HEAD) /v1/traces/{traceId}: an open trace comes from its object, a finalized one from R2, and a
// trace that was merged into another answers 308 with the merged trace's location.
import { authenticate } from "../auth";
import { configFor } from "../config";
import type { Env } from "../env";

import { tracesDataToJson } from "../otlp/json-out";
import { CONTENT_TYPE, type Encoding } from "../otlp/responses";
import { objectName, parseTraceId, traceKey, type TraceAddress } from "../trace-address";
import { countUsage } from "../metering/usage";
import { MAX_MERGE_HOPS } from "../assembler/types";
import { HttpError } from "./errors";
import { errorResponse, objectFailure } from "./respond";
import { decisionFromMetadata, decisionHeader } from "../forward/decision";

export async function handleRead(request: Request, env: Env, rawTraceId: string): Promise<Response> {
	try {
		const config = configFor(env);
		const { tenant } = await authenticate(request, config, "read");
		const address: TraceAddress = { tenant, traceId: requireTraceId(rawTraceId) };
		let view;
		try {
			view = await env.TRACE_ASSEMBLER.getByName(objectName(address)).view(address);
		} catch (e) {
			throw objectFailure(e, "could not read the trace");
		}
		if (view.state === "merged") return redirectTo(await mergeTarget(env, { tenant, traceId: view.into }));
		if (view.state === "partial") {
			return traceResponse(request, view.trace, "partial", {
				merged: view.merged.map((m) => `${m.traceId}:${m.rule}`).join(","),
				mergedCount: view.mergedCount > 0 ? String(view.mergedCount) : "",
				refused: view.refused.map((r) => `${r.intoTraceId}:${r.reason}`).join(","),
				dropped: view.droppedSpans > 0 ? String(view.droppedSpans) : "",
				sampling: view.sampling ?? "",
				unwritten: view.unwritten,
			});
		}
		// HEAD (the viewer's status check) needs only the metadata; either is one class B operation.
		countUsage("r2ClassB");
		const object: R2Object | R2ObjectBody | null = request.method === "HEAD" ? await env.TRACES.head(traceKey(address)) : await env.TRACES.get(traceKey(address));
		if (!object) throw new HttpError(404, `trace ${address.traceId} not found`);
		const metadata = object.customMetadata ?? {};
		if (metadata.mergedInto) {
			if (hasBody(object)) await object.body.cancel();
			return redirectTo(await mergeTarget(env, { tenant, traceId: metadata.mergedInto }));
		}
		return traceResponse(request, hasBody(object) ? new Uint8Array(await object.arrayBuffer()) : new Uint8Array(0), "complete", {
			merged: metadata.mergedTraces ?? "",
			mergedCount: metadata.mergedTraceCount ?? "",
			refused: metadata.refusedMerges ?? "",
			dropped: metadata.droppedSpans ?? "",
			sampling: ((d) => (d ? decisionHeader(d) : ""))(decisionFromMetadata(metadata)),
		});
	} catch (e) {
		return errorResponse(e);
	}
}

function hasBody(object: R2Object | R2ObjectBody): object is R2ObjectBody {
	return "body" in object;
}

export function requireTraceId(raw: string): string {
	const traceId = parseTraceId(raw);
	if (!traceId) throw new HttpError(400, `invalid trace id ${JSON.stringify(raw.slice(0, 64))}: expected 32 hex digits, not all zero`);
	return traceId;
}

/** Chains (C merged into B, B into A) redirect straight to the trace that holds everything. */
async function mergeTarget(env: Env, address: TraceAddress): Promise<string> {
	let traceId = address.traceId;
	for (let hop = 0; hop < MAX_MERGE_HOPS; hop++) {
		const next = { tenant: address.tenant, traceId };
		let into: string | undefined;
		try {
			into = (await env.TRACE_ASSEMBLER.getByName(objectName(next)).mergedInto()) ?? (countUsage("r2ClassB"), await env.TRACES.head(traceKey(next)))?.customMetadata?.mergedInto;
		} catch {
			// A hop we cannot look up now still leaves a redirect the client can follow from there.
		}
		if (!into) break;
		traceId = into;
	}
	return traceId;
}

function redirectTo(traceId: string): Response {
	return new Response(null, { status: 308, headers: { location: `/v1/traces/${traceId}`, "x-trace-status": "merged" } });
}

interface TraceNotes {
	merged: string;
	mergedCount: string;
	refused: string;
	dropped: string;
	/** The tail-sampling decision, `kept; rule=<name>; rate=<N>` (src/forward/decision.ts). */
	sampling: string;
	/** Why R2 refused the trace for good, when it did (only its object holds it, until retention). */
	unwritten?: string;
}

function traceResponse(request: Request, trace: Uint8Array, status: "partial" | "complete", notes: TraceNotes): Response {
	const encoding: Encoding = /protobuf/i.test(request.headers.get("accept") ?? "") ? "protobuf" : "json";
	const body = request.method === "HEAD" ? null : encoding === "protobuf" ? trace : JSON.stringify(tracesDataToJson(trace));
	const headers: Record<string, string> = { "content-type": CONTENT_TYPE[encoding], "x-trace-status": status, vary: "accept" };
	// `<trace id>:<rule>` for every trace merged in, and `<trace id>:<reason>` for refused merges.
	// The list holds the first MAX_LISTED_MERGES (≈ 4.5 KB); the count covers every merge.
	if (notes.merged) headers["x-trace-merged"] = notes.merged;
	if (notes.mergedCount) headers["x-trace-merged-count"] = notes.mergedCount;
	if (notes.refused) headers["x-trace-refused-merges"] = notes.refused;
	// A truncated trace says so: how many spans the per-trace limits turned away.
	if (notes.dropped) headers["x-trace-dropped-spans"] = notes.dropped;
	if (notes.sampling) headers["x-trace-sampling"] = notes.sampling;
	if (notes.unwritten) headers["x-trace-unwritten"] = notes.unwritten;
	return new Response(body, { headers });
}


