// GET /api/v2/traces/{id} and GET /api/traces/{id}: a trace as Grafana's Tempo data source reads
// it. Grafana's Go backend dereferences resource, scope and status without nil checks and drops a
// resource group without attributes, so the answer always has them (see `nilSafe`).
import { create, fromBinary, toBinary, type JsonObject } from "@bufbuild/protobuf";
import { authenticate } from "../auth";
import { configFor } from "../config";
import type { Env } from "../env";
import { InstrumentationScopeSchema, KeyValueSchema } from "../gen/opentelemetry/proto/common/v1/common_pb";
import { ResourceSchema } from "../gen/opentelemetry/proto/resource/v1/resource_pb";
import { StatusSchema, TracesDataSchema, type TracesData } from "../gen/opentelemetry/proto/trace/v1/trace_pb";
import { PartialStatus, TraceByIDResponseSchema, TraceSchema } from "../gen/tempopb/tempo_pb";
import { HttpError } from "../http/errors";
import { errorResponse, objectFailure } from "../http/respond";
import { tracesDataToJson } from "../otlp/json-out";
import { countUsage } from "../metering/usage";
import { MAX_MERGE_HOPS } from "../assembler/types";
import { isZero } from "../otlp/wire";
import { UNKNOWN_SERVICE } from "../search/entry";
import { objectName, traceKey, type TraceAddress } from "../trace-address";

/** Tempo prints ids without leading zeros and Grafana passes them as typed: 1-32 hex digits, either case. */
export function parseTempoTraceId(raw: string): string {
	if (!/^[0-9a-fA-F]{1,32}$/.test(raw) || /^0+$/.test(raw)) {
		throw new HttpError(400, `invalid trace id ${JSON.stringify(raw.slice(0, 64))}: expected 1 to 32 hex digits, not all zero`);
	}
	return raw.toLowerCase().padStart(32, "0");
}

/** The path segment decoded; broken percent-encoding (`%ZZ`) is the client's mistake, not a 500. */
function decodedId(raw: string): string {
	try {
		return decodeURIComponent(raw);
	} catch {
		throw new HttpError(400, `invalid trace id ${JSON.stringify(raw.slice(0, 64))}: not valid percent-encoding`);
	}
}

export async function handleTempoTrace(request: Request, env: Env, rawId: string, version: "v1" | "v2"): Promise<Response> {
	try {
		const { tenant } = await authenticate(request, configFor(env), "read");
		const traceId = parseTempoTraceId(decodedId(rawId));
		const found = await loadTrace(env, { tenant, traceId });
		if (!found) throw new HttpError(404, `trace ${traceId} not found`);
		const trace = nilSafe(fromBinary(TracesDataSchema, found.trace));
		const protobuf = /protobuf/i.test(request.headers.get("accept") ?? "");
		const headers = { vary: "accept", "x-trace-status": found.partial ? "partial" : "complete" };
		if (version === "v2") {
			if (protobuf) {
				const body = toBinary(TraceByIDResponseSchema, create(TraceByIDResponseSchema, { trace: { resourceSpans: trace.resourceSpans }, status: found.partial ? PartialStatus.PARTIAL : PartialStatus.COMPLETE }));
				return new Response(body, { headers: { ...headers, "content-type": "application/protobuf" } });
			}
			const json: JsonObject = { trace: tracesDataToJson(toBinary(TracesDataSchema, trace)) };
			if (found.partial) json.status = "PARTIAL";
			return Response.json(json, { headers });
		}
		if (protobuf) {
			return new Response(toBinary(TraceSchema, create(TraceSchema, { resourceSpans: trace.resourceSpans })), { headers: { ...headers, "content-type": "application/protobuf" } });
		}
		// Tempo's v1 JSON names the resource spans `batches`.
		return Response.json({ batches: tracesDataToJson(toBinary(TracesDataSchema, trace)).resourceSpans }, { headers });
	} catch (e) {
		return errorResponse(e);
	}
}

/** The trace's encoded spans, following merges (C into B into A reads as A); undefined when neither its object nor R2 has it. */
export async function loadTrace(env: Env, address: TraceAddress): Promise<{ trace: Uint8Array; partial: boolean } | undefined> {
	let traceId = address.traceId;
	for (let hop = 0; hop <= MAX_MERGE_HOPS; hop++) {
		const current: TraceAddress = { tenant: address.tenant, traceId };
		let view;
		try {
			view = await env.TRACE_ASSEMBLER.getByName(objectName(current)).view(current);
		} catch (e) {
			throw objectFailure(e, "could not read the trace");
		}
		if (view.state === "merged") {
			traceId = view.into;
			continue;
		}
		if (view.state === "partial") return { trace: view.trace, partial: true };
		countUsage("r2ClassB");
		const object = await env.TRACES.get(traceKey(current));
		if (!object) return undefined;
		const into = object.customMetadata?.mergedInto;
		if (into) {
			await object.body.cancel();
			traceId = into;
			continue;
		}
		return { trace: new Uint8Array(await object.arrayBuffer()), partial: false };
	}
	return undefined;
}

/**
 * What Grafana needs to be there: every resource with a `service.name` (a resource without
 * attributes makes Grafana drop its spans), every scope and status present (empty is fine), and a
 * root's parent span id empty rather than eight zero bytes.
 */
export function nilSafe(trace: TracesData): TracesData {
	for (const resourceSpans of trace.resourceSpans) {
		resourceSpans.resource ??= create(ResourceSchema);
		const attributes = resourceSpans.resource.attributes;
		if (!attributes.some((a) => a.key === "service.name")) {
			attributes.push(create(KeyValueSchema, { key: "service.name", value: { value: { case: "stringValue", value: UNKNOWN_SERVICE } } }));
		}
		for (const scopeSpans of resourceSpans.scopeSpans) {
			scopeSpans.scope ??= create(InstrumentationScopeSchema);
			for (const span of scopeSpans.spans) {
				span.status ??= create(StatusSchema);
				if (span.parentSpanId.length > 0 && isZero(span.parentSpanId)) span.parentSpanId = new Uint8Array(0);
			}
		}
	}
	return trace;
}
