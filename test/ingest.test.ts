import { describe, expect, it } from "vitest";
import { fromBinary, toBinary, create } from "@bufbuild/protobuf";
import { ExportTraceServiceResponseSchema, ExportTraceServiceRequestSchema } from "../src/gen/opentelemetry/proto/collector/trace/v1/trace_service_pb";
import { StatusSchema } from "../src/gen/google/rpc/status_pb";
import { BASE, AUTH, jsonRequest, postTraces, protobufRequest, randomHex, readTrace, spanIds } from "./helpers";
import { exports } from "cloudflare:workers";

async function gzip(data: Uint8Array | string, format: "gzip" | "deflate" = "gzip"): Promise<Uint8Array> {
	const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
	return new Uint8Array(await new Response(new Blob([bytes]).stream().pipeThrough(new CompressionStream(format))).arrayBuffer());
}

describe("POST /v1/traces", () => {
	it("accepts OTLP/JSON and answers an empty ExportTraceServiceResponse in JSON", async () => {
		const traceId = randomHex(16);
		const res = await postTraces(jsonRequest([{ traceId, spanId: randomHex(8) }, { traceId, spanId: randomHex(8) }]));
		expect(res.status).toBe(200);
		expect(res.headers.get("content-type")).toBe("application/json");
		expect(await res.json()).toEqual({});
		expect(spanIds((await readTrace(traceId)).trace)).toHaveLength(2);
	});

	it("accepts protobuf and answers in protobuf", async () => {
		const traceId = randomHex(16);
		const res = await postTraces(protobufRequest([{ traceId, spanId: randomHex(8) }]));
		expect(res.status).toBe(200);
		expect(res.headers.get("content-type")).toBe("application/x-protobuf");
		const body = fromBinary(ExportTraceServiceResponseSchema, new Uint8Array(await res.arrayBuffer()));
		expect(body.partialSuccess).toBeUndefined();
		expect(spanIds((await readTrace(traceId)).trace)).toHaveLength(1);
	});

	it("splits one request across traces, each read back on its own", async () => {
		const traces = Array.from({ length: 40 }, () => randomHex(16));
		const spans = traces.flatMap((traceId) => [{ traceId, spanId: randomHex(8) }, { traceId, spanId: randomHex(8), service: "other" }]);
		const res = await postTraces(protobufRequest(spans));
		expect(res.status).toBe(200);
		for (const traceId of traces.slice(0, 5)) {
			const { trace } = await readTrace(traceId);
			expect(spanIds(trace)).toHaveLength(2);
			// Resource grouping is preserved: two services, two ResourceSpans.
			expect(trace.resourceSpans).toHaveLength(2);
		}
	});

	it("keeps the valid spans of a request and rejects invalid ones with partial success (JSON)", async () => {
		const traceId = randomHex(16);
		const good = randomHex(8);
		const doc = jsonRequest([{ traceId, spanId: good }]) as any;
		const spans = doc.resourceSpans[0].scopeSpans[0].spans;
		spans.push({ ...spans[0], traceId: "abc", spanId: randomHex(8) });
		spans.push({ ...spans[0], traceId: "0".repeat(32), spanId: randomHex(8) });
		spans.push({ ...spans[0], spanId: "0".repeat(16) });
		spans.push({ ...spans[0], spanId: randomHex(8), attributes: "not a list" });
		const res = await postTraces(doc);
		expect(res.status).toBe(200);
		const body = (await res.json()) as any;
		expect(body.partialSuccess.rejectedSpans).toBe("4");
		expect(body.partialSuccess.errorMessage).toMatch(/2 spans: invalid trace id/);
		expect(body.partialSuccess.errorMessage).toMatch(/invalid span id/);
		expect(body.partialSuccess.errorMessage).toMatch(/attributes is not an array/);
		expect(spanIds((await readTrace(traceId)).trace)).toEqual([good]);
	});

	it("rejects protobuf spans with wrong-length or zero ids individually", async () => {
		const traceId = randomHex(16);
		const good = randomHex(8);
		const request = fromBinary(ExportTraceServiceRequestSchema, protobufRequest([{ traceId, spanId: good }, { traceId, spanId: randomHex(8) }, { traceId, spanId: randomHex(8) }]));
		const spans = request.resourceSpans[0]!.scopeSpans[0]!.spans;
		spans[1]!.traceId = new Uint8Array(15).fill(1);
		spans[2]!.spanId = new Uint8Array(8);
		const res = await postTraces(toBinary(ExportTraceServiceRequestSchema, request));
		expect(res.status).toBe(200);
		const body = fromBinary(ExportTraceServiceResponseSchema, new Uint8Array(await res.arrayBuffer()));
		expect(body.partialSuccess?.rejectedSpans).toBe(2n);
		expect(body.partialSuccess?.errorMessage).toMatch(/invalid trace id.*|invalid span id/);
		expect(spanIds((await readTrace(traceId)).trace)).toEqual([good]);
	});

	it("answers 400 with a google.rpc.Status for an undecodable protobuf body", async () => {
		const res = await postTraces(new Uint8Array([0x0a, 0xff, 0xff, 0x01, 0x02]));
		expect(res.status).toBe(400);
		expect(res.headers.get("content-type")).toBe("application/x-protobuf");
		const status = fromBinary(StatusSchema, new Uint8Array(await res.arrayBuffer()));
		expect(status.code).toBe(3);
		expect(status.message).toMatch(/undecodable ExportTraceServiceRequest/);
	});

	it("answers 400 for invalid JSON and for JSON that is not an export request", async () => {
		let res = await postTraces("{not json", { contentType: "application/json" });
		expect(res.status).toBe(400);
		expect(((await res.json()) as any).message).toMatch(/not valid JSON/);
		res = await postTraces({ resourceSpans: 7 });
		expect(res.status).toBe(400);
		expect(((await res.json()) as any).message).toMatch(/resourceSpans is not an array/);
	});

	it("answers 200 to an empty body and an empty request", async () => {
		expect((await postTraces(new Uint8Array(0))).status).toBe(200);
		expect((await postTraces({})).status).toBe(200);
		expect((await postTraces({ resourceSpans: [] })).status).toBe(200);
	});

	it("answers 415 for other content types and 405 for other methods", async () => {
		const res = await postTraces("hello", { contentType: "text/plain" });
		expect(res.status).toBe(415);
		expect(((await res.json()) as any).message).toMatch(/application\/x-protobuf or application\/json/);
		const get = await exports.default.fetch(new Request(`${BASE}/v1/traces`, { headers: AUTH }));
		expect(get.status).toBe(405);
		expect(get.headers.get("allow")).toBe("POST");
	});

	it("decompresses gzip and deflate bodies", async () => {
		for (const format of ["gzip", "deflate"] as const) {
			const traceId = randomHex(16);
			const body = await gzip(protobufRequest([{ traceId, spanId: randomHex(8) }]), format);
			const res = await postTraces(body, { headers: { "content-encoding": format } });
			expect(res.status, format).toBe(200);
			expect(spanIds((await readTrace(traceId)).trace)).toHaveLength(1);
		}
	});

	it("answers 413 when the body exceeds MAX_BODY_BYTES after decompression (a gzip bomb)", async () => {
		const bomb = await gzip(new Uint8Array(9 * 1024 * 1024));
		expect(bomb.length).toBeLessThan(100_000);
		const res = await postTraces(bomb, { headers: { "content-encoding": "gzip" } });
		expect(res.status).toBe(413);
		expect(((await res.arrayBuffer()).byteLength)).toBeGreaterThan(0);
	});

	it("answers 400 for a corrupt gzip body and 415 for an unknown encoding", async () => {
		let res = await postTraces(new Uint8Array([1, 2, 3, 4]), { headers: { "content-encoding": "gzip" } });
		expect(res.status).toBe(400);
		res = await postTraces(new Uint8Array([1, 2, 3, 4]), { headers: { "content-encoding": "br" } });
		expect(res.status).toBe(415);
	});

	it("keeps untidy JSON as sent: empty values, odd flags, uppercase ids, numbers, names, snake_case", async () => {
		const traceId = randomHex(16);
		const spanId = randomHex(8);
		const res = await postTraces({
			resourceSpans: [
				{
					resource: { attributes: [{ key: "service.name", value: { stringValue: "untidy" } }, { key: "empty", value: {} }] },
					scope_spans: [
						{
							scope: { name: "s" },
							spans: [
								{
									traceId: traceId.toUpperCase(),
									span_id: spanId,
									parentSpanId: "",
									name: "untidy",
									kind: "SPAN_KIND_SERVER",
									flags: 0x301,
									startTimeUnixNano: 1700000000000000000,
									endTimeUnixNano: "1700000000000000123",
									attributes: [
										{ key: "n", value: { intValue: 42 } },
										{ key: "d", value: { doubleValue: "1.5" } },
										{ key: "nothing" },
									],
									status: { code: 2, message: "boom" },
									unknownField: { ignored: true },
								},
							],
						},
					],
				},
			],
		});
		expect(res.status).toBe(200);
		expect(await res.json()).toEqual({});
		const read = await exports.default.fetch(new Request(`${BASE}/v1/traces/${traceId}`, { headers: AUTH }));
		const json = (await read.json()) as any;
		const span = json.resourceSpans[0].scopeSpans[0].spans[0];
		expect(span).toMatchObject({
			traceId,
			spanId,
			name: "untidy",
			kind: 2,
			flags: 0x301,
			startTimeUnixNano: "1700000000000000000",
			endTimeUnixNano: "1700000000000000123",
			status: { code: 2, message: "boom" },
		});
		expect(span.attributes).toEqual([{ key: "n", value: { intValue: "42" } }, { key: "d", value: { doubleValue: 1.5 } }, { key: "nothing" }]);
		expect(json.resourceSpans[0].resource.attributes[1]).toEqual({ key: "empty", value: {} });
	});

	it("accepts Cloudflare's pre-flight check", async () => {
		const res = await postTraces({
			resourceSpans: [
				{
					resource: {
						attributes: [
							{ key: "service.name", value: { stringValue: "cloudflare-workers-observability" } },
							{ key: "telemetry.sdk.name", value: { stringValue: "pre-flight-check" } },
						],
					},
					scopeSpans: [{ scope: {}, spans: [{ traceId: randomHex(16), spanId: randomHex(8), name: "pre-flight", startTimeUnixNano: "1", endTimeUnixNano: "2" }] }],
				},
			],
		});
		expect(res.status).toBe(200);
	});
});
