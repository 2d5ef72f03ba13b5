// Seeded fuzzing of every endpoint: random and mutated protobuf and JSON bodies, hostile ids and
// headers, garbage WebSocket frames. Every reply must be a 4xx or a 200 (with partial success where
// spans were refused), never a 5xx, and valid spans sent afterwards must still be stored correctly.
// FUZZ_CASES and FUZZ_SEED (vitest.config.ts) scale and reproduce a run.
import { describe, expect, it } from "vitest";
import { env, exports } from "cloudflare:workers";
import { fromBinary } from "@bufbuild/protobuf";
import { ExportTraceServiceResponseSchema } from "../src/gen/opentelemetry/proto/collector/trace/v1/trace_service_pb";
import { AUTH, BASE, jsonRequest, postTraces, protobufRequest, randomHex, readTrace, spanIds } from "./helpers";
import { prng, type Rng } from "./prng";

const CASES = Number((env as unknown as Record<string, string>).FUZZ_CASES ?? "400");
const SEED = Number((env as unknown as Record<string, string>).FUZZ_SEED ?? "1");
/** Long runs scale the per-test time limit with the number of cases. */
const TIMEOUT_MS = 20_000 + CASES * 15;


const tally = { requests: 0, ok: 0, partial: 0, clientErrors: 0, serverErrors: 0 };

async function expectNoServerError(res: Response, what: string): Promise<void> {
	tally.requests++;
	const body = new Uint8Array(await res.arrayBuffer());
	if (res.status >= 500) tally.serverErrors++;
	expect(res.status, `${what}: ${new TextDecoder().decode(body).slice(0, 300)}`).toBeLessThan(500);
	if (res.status === 200) {
		tally.ok++;
		// Only export responses carry partial success; reads answer with the trace itself.
		if (res.headers.has("x-trace-status")) return;
		const type = res.headers.get("content-type");
		if (type === "application/x-protobuf") {
			if (fromBinary(ExportTraceServiceResponseSchema, body).partialSuccess) tally.partial++;
		} else if (type === "application/json" && body.length > 0 && (JSON.parse(new TextDecoder().decode(body)) as any).partialSuccess) tally.partial++;
	} else tally.clientErrors++;
}

/**
 * Fuzz cases share a bounded pool of trace ids: the same objects take garbage and valid spans over
 * and over, and a long run does not open more objects (each holds SQLite files) than one workerd
 * process has file descriptors for.
 */
const TRACE_POOL = Array.from({ length: 256 }, () => randomHex(16));

function validSpans(rng: Rng) {
	const traceId = rng.pick(TRACE_POOL);
	return Array.from({ length: 1 + rng.int(6) }, (_, i) => ({
		traceId: rng.next() < 0.2 ? rng.pick(TRACE_POOL) : traceId,
		spanId: randomHex(8),
		name: `op-${i}`,
		attributes: { "http.request.method": "GET", n: rng.int(1000), ok: rng.next() < 0.5, tags: ["a", "b"] },
		statusCode: rng.int(3),
	}));
}

/** A protobuf mutation: truncation, flipped or inserted bytes, wrong wire types, or raw noise. */
function mutateProtobuf(rng: Rng, bytes: Uint8Array): Uint8Array {
	const out = Uint8Array.from(bytes);
	switch (rng.int(6)) {
		case 0:
			return out.subarray(0, rng.int(out.length));
		case 1:
			for (let i = 0; i < 1 + rng.int(8); i++) out[rng.int(out.length)] = rng.int(256);
			return out;
		case 2: {
			const at = rng.int(out.length);
			return new Uint8Array([...out.subarray(0, at), ...rng.bytes(1 + rng.int(16)), ...out.subarray(at)]);
		}
		case 3:
			// Rewrite a wire type in place (a tag's low three bits).
			for (let i = 0; i < 4; i++) {
				const at = rng.int(out.length);
				out[at] = (out[at]! & 0xf8) | rng.int(8);
			}
			return out;
		case 4:
			return rng.bytes(rng.int(2048));
		default:
			return new Uint8Array([...out, ...rng.bytes(1 + rng.int(64))]);
	}
}

function randomJson(rng: Rng, depth: number): unknown {
	const kind = depth > 4 ? rng.int(5) : rng.int(8);
	switch (kind) {
		case 0:
			return null;
		case 1:
			return rng.next() < 0.5;
		case 2:
			return rng.pick([0, -1, 1e308, -1e-308, 2 ** 64, Number.MAX_SAFE_INTEGER, 3.5]);
		case 3:
			return rng.pick(["", "x", "0".repeat(32), "ZZ".repeat(16), "\ud800", "18446744073709551616", "-1", randomHex(16), randomHex(8)]);
		case 4:
			return "s".repeat(rng.int(3) * 1000);
		case 5:
			return Array.from({ length: rng.int(4) }, () => randomJson(rng, depth + 1));
		default: {
			const keys = ["resourceSpans", "scopeSpans", "spans", "traceId", "spanId", "parentSpanId", "attributes", "value", "stringValue", "intValue", "arrayValue", "values", "kind", "startTimeUnixNano", "links", "events", "status", "code", "resource", "scope"];
			return Object.fromEntries(Array.from({ length: rng.int(5) }, () => [rng.pick(keys), randomJson(rng, depth + 1)]));
		}
	}
}

/** Replaces a random subtree of a valid request with a random value. */
function mutateJson(rng: Rng, doc: any): any {
	const copy = structuredClone(doc);
	const paths: [any, string | number][] = [];
	const walk = (node: any) => {
		if (node && typeof node === "object") {
			for (const key of Object.keys(node)) {
				paths.push([node, Array.isArray(node) ? Number(key) : key]);
				walk(node[key]);
			}
		}
	};
	walk(copy);
	for (let i = 0; i < 1 + rng.int(3) && paths.length > 0; i++) {
		const [parent, key] = rng.pick(paths);
		parent[key] = randomJson(rng, 2);
	}
	return copy;
}

async function checkStillWorks(rng: Rng): Promise<void> {
	const traceId = randomHex(16);
	const spans = validSpans(rng).map((s) => ({ ...s, traceId }));
	const res = await postTraces(rng.next() < 0.5 ? jsonRequest(spans) : protobufRequest(spans));
	expect(res.status).toBe(200);
	const expected = spans.filter((s) => s.traceId === traceId).map((s) => s.spanId).sort();
	expect(spanIds((await readTrace(traceId)).trace)).toEqual(expected);
}

describe(`fuzzing (seed ${SEED}, ${CASES} cases per kind)`, () => {
	it("mutated protobuf bodies never get a 5xx", async () => {
		const rng = prng(SEED);
		for (let i = 0; i < CASES; i++) {
			const spans = validSpans(rng);
			const body = mutateProtobuf(rng, protobufRequest(spans));
			const res = await postTraces(body);
			const accepted = res.status === 200;
			await expectNoServerError(res, `protobuf case ${i}`);
			// A mutation that still decodes is stored: it must read back too, as JSON (the harder path).
			if (accepted) await expectNoServerError(await exports.default.fetch(new Request(`${BASE}/v1/traces/${spans[0]!.traceId}`, { headers: AUTH })), `read of protobuf case ${i}`);
			if (i % 100 === 99) await checkStillWorks(rng);
		}
		await checkStillWorks(rng);
	}, TIMEOUT_MS);

	it("mutated and random JSON bodies never get a 5xx", async () => {
		const rng = prng(SEED + 1);
		for (let i = 0; i < CASES; i++) {
			const doc = rng.next() < 0.8 ? mutateJson(rng, jsonRequest(validSpans(rng))) : randomJson(rng, 0);
			const text = JSON.stringify(doc) ?? "null";
			const body = rng.next() < 0.1 ? text.slice(0, rng.int(text.length)) : text;
			await expectNoServerError(await postTraces(body, { contentType: "application/json" }), `json case ${i}`);
			if (i % 100 === 99) await checkStillWorks(rng);
		}
		await checkStillWorks(rng);
	}, TIMEOUT_MS);

	it("hostile shapes: deep nesting, huge strings and arrays, invalid UTF-8, bad ids and times, wrong types", async () => {
		const rng = prng(SEED + 2);
		const traceId = randomHex(16);
		let deep: any = { stringValue: "bottom" };
		for (let i = 0; i < 200; i++) deep = { arrayValue: { values: [deep] } };
		const hostile: [string, BodyInit, string][] = [
			["deep JSON nesting", "[".repeat(100_000) + "]".repeat(100_000), "application/json"],
			["deep attribute nesting", JSON.stringify(jsonRequestWith(traceId, { attributes: [{ key: "deep", value: deep }] })), "application/json"],
			["huge string", JSON.stringify(jsonRequestWith(traceId, { name: "n".repeat(3_000_000) })), "application/json"],
			["huge attribute array", JSON.stringify(jsonRequestWith(traceId, { attributes: Array.from({ length: 100_000 }, (_, i) => ({ key: `k${i}`, value: { intValue: i } })) })), "application/json"],
			["invalid UTF-8 in JSON", new Uint8Array([...new TextEncoder().encode('{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"'), 0xff, 0xfe, ...new TextEncoder().encode('"}]}]}]}')]), "application/json"],
			["invalid UTF-8 in protobuf strings", protobufWithName(traceId, new Uint8Array([0xc3, 0x28, 0xff])), "application/x-protobuf"],
			["short and zero ids", JSON.stringify({ resourceSpans: [{ scopeSpans: [{ spans: [{ traceId: "ab", spanId: "00" }, { traceId: "0".repeat(32), spanId: "0".repeat(16) }] }] }] }), "application/json"],
			["times out of range and end before start", JSON.stringify(jsonRequestWith(traceId, { startTimeUnixNano: "99999999999999999999999", endTimeUnixNano: "-5" })), "application/json"],
			["end before start", JSON.stringify(jsonRequestWith(traceId, { startTimeUnixNano: "2000", endTimeUnixNano: "1000" })), "application/json"],
			["protobuf sent as JSON", protobufRequest(validSpans(rng)), "application/json"],
			["JSON sent as protobuf", JSON.stringify(jsonRequest(validSpans(rng))), "application/x-protobuf"],
			["wrong content type", "x", "application/xml"],
		];
		for (const [what, body, contentType] of hostile) {
			await expectNoServerError(await postTraces(body, { contentType }), what);
		}
		// Whatever was accepted must read back, in both encodings.
		for (const accept of ["application/json", "application/x-protobuf"]) {
			const res = await exports.default.fetch(new Request(`${BASE}/v1/traces/${traceId}`, { headers: { ...AUTH, accept } }));
			await expectNoServerError(res, `read back as ${accept}`);
			expect(res.status).toBe(200);
		}
		await checkStillWorks(rng);
	}, TIMEOUT_MS);

	it("POST /v1/stitch, the read API and the live endpoint answer hostile input with 4xx", async () => {
		const rng = prng(SEED + 3);
		for (let i = 0; i < Math.min(CASES, 300); i++) {
			const body = rng.next() < 0.5 ? JSON.stringify(randomJson(rng, 0)) ?? "" : new TextDecoder().decode(rng.bytes(rng.int(200)));
			await expectNoServerError(
				await exports.default.fetch(new Request(`${BASE}/v1/stitch`, { method: "POST", headers: { ...AUTH, "content-type": "application/json" }, body })),
				`stitch case ${i}`,
			);
			const id = rng.pick([randomHex(16), randomHex(16).toUpperCase(), "%00", "..%2F..%2Fetc", "a".repeat(5000), encodeURIComponent("🙂"), ""]);
			const accept = rng.pick(["application/x-protobuf", "application/json", "*/*", "text/html", "", "application/protobuf;q=0.1, */*"]);
			await expectNoServerError(await exports.default.fetch(new Request(`${BASE}/v1/traces/${id}`, { headers: { ...AUTH, accept } })), `read ${id}`);
		}
		const traceId = randomHex(16);
		const res = await exports.default.fetch(new Request(`${BASE}/v1/traces/${traceId}/live`, { headers: { ...AUTH, upgrade: "websocket" } }));
		const socket = res.webSocket!;
		socket.accept();
		for (let i = 0; i < 200; i++) socket.send(rng.next() < 0.5 ? rng.bytes(rng.int(512)) : new TextDecoder().decode(rng.bytes(rng.int(512))));
		const got = new Promise<any>((resolve) => socket.addEventListener("message", (e) => typeof e.data === "string" && e.data.includes('"spans"') && resolve(JSON.parse(e.data))));
		const spanId = randomHex(8);
		await postTraces(jsonRequest([{ traceId, spanId }]));
		expect((await got).resourceSpans[0].scopeSpans[0].spans[0].spanId).toBe(spanId);
		socket.close();
		console.log(`RELIABILITY fuzz seed=${SEED} cases=${CASES} ${JSON.stringify(tally)}`);
		expect(tally.serverErrors).toBe(0);
	}, TIMEOUT_MS);
});

function jsonRequestWith(traceId: string, overrides: Record<string, unknown>) {
	const doc = jsonRequest([{ traceId, spanId: randomHex(8) }]) as any;
	Object.assign(doc.resourceSpans[0].scopeSpans[0].spans[0], overrides);
	return doc;
}

/** A protobuf request whose span name is `name` as raw (possibly invalid UTF-8) bytes. */
function protobufWithName(traceId: string, name: Uint8Array): Uint8Array {
	const span = [0x0a, 16, ...hexBytes(traceId), 0x12, 8, ...hexBytes(randomHex(8)), 0x2a, name.length, ...name];
	const scope = [0x12, span.length, ...span];
	const resource = [0x12, scope.length, ...scope];
	return new Uint8Array([0x0a, resource.length, ...resource]);
}

function hexBytes(hex: string): number[] {
	return hex.match(/../g)!.map((h) => parseInt(h, 16));
}
