import { describe, expect, it } from "vitest";
import { fromBinary } from "@bufbuild/protobuf";
import { ExportTraceServiceResponseSchema } from "../src/gen/opentelemetry/proto/collector/trace/v1/trace_service_pb";
import { isUtf8 } from "../src/otlp/wire";
import { postTraces, randomHex, readTrace, spanIds } from "./helpers";

describe("wire checks", () => {
	it("isUtf8 agrees with a fatal TextDecoder on random and near-valid bytes", () => {
		const decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
		const valid = (b: Uint8Array) => {
			try {
				decoder.decode(b);
				return true;
			} catch {
				return false;
			}
		};
		let seed = 7;
		const rand = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
		const samples = [new TextEncoder().encode("héllo 🙂 \u{10ffff} \uffff"), new Uint8Array([0xed, 0xa0, 0x80]), new Uint8Array([0xc0, 0xaf]), new Uint8Array([0xf4, 0x90, 0x80, 0x80])];
		for (let i = 0; i < 3000; i++) {
			const base = new TextEncoder().encode("aé🙂€");
			const b = rand() < 0.5 ? Uint8Array.from({ length: Math.floor(rand() * 8) }, () => Math.floor(rand() * 256)) : base.map((x) => (rand() < 0.1 ? Math.floor(rand() * 256) : x));
			samples.push(b);
		}
		for (const b of samples) expect(isUtf8(b), [...b].join(",")).toBe(valid(b));
	});

	it("rejects a protobuf span with invalid UTF-8 in its name (regression: it was stored, then every JSON read of the trace failed with 500)", async () => {
		const traceId = randomHex(16);
		const hex = (h: string) => h.match(/../g)!.map((x) => parseInt(x, 16));
		const span = (name: number[]) => [0x0a, 16, ...hex(traceId), 0x12, 8, ...hex(randomHex(8)), 0x2a, name.length, ...name];
		const good = span([0x6f, 0x6b]);
		const bad = span([0xc3, 0x28]);
		const scope = [0x12, good.length, ...good, 0x12, bad.length, ...bad];
		const resource = [0x12, scope.length, ...scope];
		const res = await postTraces(new Uint8Array([0x0a, resource.length, ...resource]));
		expect(res.status).toBe(200);
		const body = fromBinary(ExportTraceServiceResponseSchema, new Uint8Array(await res.arrayBuffer()));
		expect(body.partialSuccess?.rejectedSpans).toBe(1n);
		expect(body.partialSuccess?.errorMessage).toMatch(/UTF-8/);
		expect(spanIds((await readTrace(traceId)).trace)).toHaveLength(1);
	});
});
