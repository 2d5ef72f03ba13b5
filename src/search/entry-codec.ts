// How a TraceEntry is stored in its partition row: a compact binary form, deflated. The decoded
// shape (entry.ts) is what the matcher, metrics and forwarding read; only the bytes change. JSON
// spelled every span id, start time and repeated key out in text (≈ 9.3 KB for the standard
// 64-span trace); here keys are listed once, span ids are 8 raw bytes, times are varint offsets
// from the trace's start, names and status messages are indexes into one string table, and the
// whole is deflated with a dictionary of the keys OpenTelemetry and Cloudflare spans carry (the
// first use of a common key then costs a few bytes too). The first byte names the format, so a
// later layout can be read beside this one.
import { deflateRawSync, inflateRawSync } from "node:zlib";
import { fromHex, toHex } from "../otlp/wire";
import type { EntrySpan, Pair, TraceEntry, ValueType } from "./entry";

const FORMAT_DEFLATED_V1 = 1;

/**
 * Text that common entries share, given to deflate as a preset dictionary. Part of the stored
 * format: never edit it (a new dictionary needs a new format byte).
 */
const DICTIONARY = new TextEncoder().encode(
	[
		"service.name", "cloud.provider", "cloudflare", "cloud.platform", "cloudflare.workers", "faas.name", "faas.invocation_id", "faas.version", "faas.invoked_region",
		"faas.trigger", "http", "cloudflare.colo", "cloudflare.script_name", "cloudflare.script_version.id", "cloudflare.invocation.sequence.number", "telemetry.sdk.language",
		"javascript", "telemetry.sdk.name", "telemetry.sdk.version", "opentelemetry", "cloudflare.durable_object.id", "cloudflare.ray_id", "cloudflare.handler_type", "fetch",
		"cloudflare.entrypoint", "default", "cloudflare.execution_model", "stateless", "stateful", "cloudflare.outcome", "ok", "cloudflare.cpu_time_ms", "cloudflare.wall_time_ms",
		"cloudflare.binding.name", "cloudflare.binding.type", "http.request.method", "GET", "POST", "url.full", "https://", "url.path", "url.scheme", "url.query",
		"http.response.status_code", "http.response.body.size", "http.request.body.size", "http.route", "server.address", "server.port", "network.protocol.name",
		"network.protocol.version", "user_agent.original", "db.system", "db.system.name", "db.namespace", "db.operation.name", "db.query.text", "db.collection.name",
		"db.response.returned_rows", "cloudflare.kv.query.keys", "cloudflare-kv", "durable_object_subrequest", "durable_object_storage_", "kv_get", "kv_put", "r2_get", "r2_put",
		"d1_", "queue_send", "cache_", "jsRpcSession", "jsRpcCall", "jsrpc.caller_span_id", "error.type", "exception.message", "exception.type", "otel.scope.name",
		"http.request.header.traceparent", "traceparent", "deployment.environment", "service.version", "service.namespace", "host.name", "process.runtime.name",
	].join(""),
);

// A span's parent: unknown (an entry built before parents were kept), none (a root), an id, or the kept span at (n - P_SPAN).
const P_UNKNOWN = 0;
const P_NONE = 1;
const P_ID = 2;
const P_SPAN = 3;

// Value type tags: the entry's four types, with ints that are not safe integers and booleans by value.
const V_STRING = 0;
const V_INT = 1;
const V_DOUBLE = 2;
const V_TRUE = 3;
const V_FALSE = 4;
const V_INT_FLOAT = 5;
/** A string of lowercase hex digits (ids: invocation, ray, Durable Object), stored as its bytes. */
const V_HEX = 6;
const HEX_VALUE = /^(?:[0-9a-f]{2}){8,}$/;

export class EntryFormatError extends Error {
	override name = "EntryFormatError";
}

/** The stored bytes of `entry`. */
export function encodeEntry(entry: TraceEntry): Uint8Array {
	const w = new Writer();
	const start = BigInt(entry.startNs);
	w.hex(entry.traceId);
	w.bigint(start);
	w.bigint(BigInt(entry.endNs) - start);
	w.optionalString(entry.rootServiceName);
	w.optionalString(entry.rootName);
	w.uint(entry.spanCount);
	const services = Object.entries(entry.services);
	w.uint(services.length);
	for (const [name, [spans, errors]] of services) {
		w.string(name);
		w.uint(spans);
		w.uint(errors);
	}
	// Keys once; each value names its key by index.
	const keys = new Map<string, number>();
	for (const [key] of entry.values) if (!keys.has(key)) keys.set(key, keys.size);
	w.uint(keys.size);
	for (const key of keys.keys()) w.string(key);
	w.uint(entry.values.length);
	for (const [key, type, value] of entry.values) {
		w.uint(keys.get(key)!);
		writeValue(w, type, value);
	}
	w.uint(entry.resources.length);
	for (const group of entry.resources) w.uints(group);
	// Span names and status messages: one table, "" first.
	const strings = new Map<string, number>([["", 0]]);
	for (const span of entry.spans) for (const text of [span[1], span[8]]) if (!strings.has(text)) strings.set(text, strings.size);
	w.uint(strings.size - 1);
	for (const text of [...strings.keys()].slice(1)) w.string(text);
	w.uint(entry.spans.length);
	// A parent is nearly always a kept span of the same entry: named by its position, not its id.
	const positions = new Map(entry.spans.map((span, i) => [span[0], i]));
	for (const [spanId, name, startNs, durationNs, kind, status, resource, attributes, statusMessage, parentSpanId] of entry.spans) {
		w.hex(spanId);
		w.uint(strings.get(name)!);
		w.time(BigInt(startNs) - start);
		w.time(BigInt(Math.trunc(durationNs)));
		w.uint(kind);
		w.uint(status);
		w.uint(resource);
		w.uints(attributes);
		w.uint(strings.get(statusMessage)!);
		const parent = parentSpanId === undefined ? undefined : positions.get(parentSpanId);
		if (parentSpanId === undefined) w.uint(P_UNKNOWN);
		else if (parentSpanId === "") w.uint(P_NONE);
		else if (parent !== undefined) w.uint(P_SPAN + parent);
		else {
			w.uint(P_ID);
			w.hex(parentSpanId);
		}
	}
	w.uint(entry.dropped ? 1 : 0);
	if (entry.dropped) {
		w.uint(entry.dropped.spans);
		w.uint(entry.dropped.values);
	}
	const deflated = deflateRawSync(w.finish(), { level: 9, dictionary: DICTIONARY });
	const out = new Uint8Array(deflated.length + 1);
	out[0] = FORMAT_DEFLATED_V1;
	out.set(deflated, 1);
	return out;
}

/** The entry stored as `bytes`; throws EntryFormatError on bytes this code did not write. */
export function decodeEntry(bytes: Uint8Array | ArrayBuffer): TraceEntry {
	const stored = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
	if (stored[0] !== FORMAT_DEFLATED_V1) throw new EntryFormatError(`unknown index entry format ${stored[0]}`);
	let plain: Uint8Array;
	try {
		plain = inflateRawSync(stored.subarray(1), { dictionary: DICTIONARY });
	} catch (e) {
		throw new EntryFormatError(`index entry does not inflate: ${String(e)}`);
	}
	const r = new Reader(plain);
	const traceId = r.hex();
	const start = r.bigint();
	const entry: TraceEntry = { traceId, startNs: String(start), endNs: String(start + r.bigint()), spanCount: 0, services: {}, values: [], resources: [], spans: [] };
	const rootServiceName = r.optionalString();
	const rootName = r.optionalString();
	entry.spanCount = r.uint();
	for (let n = r.uint(); n > 0; n--) {
		const name = r.string();
		entry.services[name] = [r.uint(), r.uint()];
	}
	const keys: string[] = [];
	for (let n = r.uint(); n > 0; n--) keys.push(r.string());
	for (let n = r.uint(); n > 0; n--) {
		const key = keys[r.uint()] ?? "";
		entry.values.push([key, ...readValue(r)] as Pair);
	}
	for (let n = r.uint(); n > 0; n--) entry.resources.push(r.uints());
	const strings = [""];
	for (let n = r.uint(); n > 0; n--) strings.push(r.string());
	const parents: [EntrySpan, number][] = [];
	for (let n = r.uint(); n > 0; n--) {
		const spanId = r.hex();
		const name = strings[r.uint()] ?? "";
		const startNs = String(start + r.time());
		const durationNs = Number(r.time());
		const span: EntrySpan = [spanId, name, startNs, durationNs, r.uint(), r.uint(), r.uint(), r.uints(), ""];
		span[8] = strings[r.uint()] ?? "";
		const parent = r.uint();
		if (parent === P_NONE) span[9] = "";
		else if (parent === P_ID) span[9] = r.hex();
		else if (parent >= P_SPAN) parents.push([span, parent - P_SPAN]);
		entry.spans.push(span);
	}
	for (const [span, position] of parents) span[9] = entry.spans[position]?.[0] ?? "";
	if (r.uint() === 1) entry.dropped = { spans: r.uint(), values: r.uint() };
	// Optional fields only when present, as buildEntry leaves them.
	if (rootServiceName !== undefined) entry.rootServiceName = rootServiceName;
	if (rootName !== undefined) entry.rootName = rootName;
	return entry;
}

function writeValue(w: Writer, type: ValueType, value: string | number | boolean): void {
	switch (type) {
		case "s":
			if (HEX_VALUE.test(value as string)) {
				w.uint(V_HEX);
				w.hex(value as string);
			} else {
				w.uint(V_STRING);
				w.string(String(value));
			}
			return;
		case "b":
			w.uint(value ? V_TRUE : V_FALSE);
			return;
		case "i":
			if (Number.isSafeInteger(value)) {
				w.uint(V_INT);
				const n = BigInt(value as number);
				w.bigint(n < 0n ? (-n << 1n) - 1n : n << 1n);
			} else {
				w.uint(V_INT_FLOAT);
				w.double(Number(value));
			}
			return;
		case "d":
			w.uint(V_DOUBLE);
			w.double(Number(value));
	}
}

function readValue(r: Reader): [ValueType, string | number | boolean] {
	const tag = r.uint();
	switch (tag) {
		case V_STRING:
			return ["s", r.string()];
		case V_HEX:
			return ["s", r.hex()];
		case V_TRUE:
			return ["b", true];
		case V_FALSE:
			return ["b", false];
		case V_INT: {
			const z = r.bigint();
			return ["i", Number(z & 1n ? -((z + 1n) >> 1n) : z >> 1n)];
		}
		case V_INT_FLOAT:
			return ["i", r.double()];
		case V_DOUBLE:
			return ["d", r.double()];
		default:
			throw new EntryFormatError(`unknown value tag ${tag}`);
	}
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

class Writer {
	#buffer = new Uint8Array(1024);
	#length = 0;

	#reserve(n: number): void {
		if (this.#length + n <= this.#buffer.length) return;
		const next = new Uint8Array(Math.max(this.#buffer.length * 2, this.#length + n));
		next.set(this.#buffer.subarray(0, this.#length));
		this.#buffer = next;
	}

	uint(n: number): void {
		if (!(n >= 0 && n < 0x10000000)) {
			this.bigint(BigInt(Math.max(0, Math.trunc(n) || 0)));
			return;
		}
		this.#reserve(5);
		while (n >= 0x80) {
			this.#buffer[this.#length++] = (n & 0x7f) | 0x80;
			n >>>= 7;
		}
		this.#buffer[this.#length++] = n;
	}

	bigint(n: bigint): void {
		if (n < 0n) n = 0n; // times are offsets from the trace's start, which is their minimum
		this.#reserve(10);
		do {
			let byte = Number(n & 0x7fn);
			n >>= 7n;
			if (n > 0n) byte |= 0x80;
			this.#buffer[this.#length++] = byte;
		} while (n > 0n);
	}

	/**
	 * A duration in nanoseconds. Runtimes that coarsen their clocks (Workers: milliseconds) give
	 * round numbers: the low two bits say which power of 1,000 divides it, so 20 ms is one byte.
	 */
	time(ns: bigint): void {
		if (ns < 0n) ns = 0n;
		let n: bigint;
		if (ns % 1_000_000n === 0n) n = ((ns / 1_000_000n) << 2n) | 2n;
		else if (ns % 1_000n === 0n) n = ((ns / 1_000n) << 2n) | 1n;
		else n = ns << 2n;
		if (n < 0x10000000n) this.uint(Number(n));
		else this.bigint(n);
	}

	uints(list: readonly number[]): void {
		this.uint(list.length);
		for (const n of list) this.uint(n);
	}

	double(n: number): void {
		this.#reserve(8);
		new DataView(this.#buffer.buffer).setFloat64(this.#length, n, true);
		this.#length += 8;
	}

	string(text: string): void {
		const bytes = encoder.encode(text);
		this.uint(bytes.length);
		this.#raw(bytes);
	}

	#raw(bytes: Uint8Array): void {
		this.#reserve(bytes.length);
		this.#buffer.set(bytes, this.#length);
		this.#length += bytes.length;
	}

	optionalString(text: string | undefined): void {
		if (text === undefined) this.uint(0);
		else {
			this.uint(1);
			this.string(text);
		}
	}

	/** Lowercase hex ids as raw bytes; anything else (never written by buildEntry) as text. */
	hex(text: string): void {
		if (/^(?:[0-9a-f]{2})*$/.test(text)) {
			this.uint(text.length / 2 + 1);
			this.#raw(fromHex(text)!);
		} else {
			this.uint(0);
			this.string(text);
		}
	}

	finish(): Uint8Array {
		return this.#buffer.subarray(0, this.#length);
	}
}

class Reader {
	readonly #bytes: Uint8Array;
	#offset = 0;

	constructor(bytes: Uint8Array) {
		this.#bytes = bytes;
	}

	#byte(): number {
		if (this.#offset >= this.#bytes.length) throw new EntryFormatError("index entry ends early");
		return this.#bytes[this.#offset++]!;
	}

	uint(): number {
		// Up to four bytes in number arithmetic (what nearly every value takes); longer ones as bigint.
		const bytes = this.#bytes;
		let offset = this.#offset;
		let n = 0;
		for (let shift = 0; shift < 28; shift += 7) {
			if (offset >= bytes.length) throw new EntryFormatError("index entry ends early");
			const byte = bytes[offset++]!;
			n |= (byte & 0x7f) << shift;
			if ((byte & 0x80) === 0) {
				this.#offset = offset;
				return n >>> 0;
			}
		}
		return Number(this.bigint());
	}

	bigint(): bigint {
		let n = 0n;
		let shift = 0n;
		for (;;) {
			const byte = this.#byte();
			n |= BigInt(byte & 0x7f) << shift;
			if ((byte & 0x80) === 0) return n;
			shift += 7n;
		}
	}

	time(): bigint {
		const n = BigInt(this.uint());
		const scale = n & 3n;
		return (n >> 2n) * (scale === 2n ? 1_000_000n : scale === 1n ? 1_000n : 1n);
	}

	uints(): number[] {
		const out: number[] = [];
		for (let n = this.uint(); n > 0; n--) out.push(this.uint());
		return out;
	}

	double(): number {
		if (this.#offset + 8 > this.#bytes.length) throw new EntryFormatError("index entry ends early");
		const value = new DataView(this.#bytes.buffer, this.#bytes.byteOffset + this.#offset, 8).getFloat64(0, true);
		this.#offset += 8;
		return value;
	}

	#take(n: number): Uint8Array {
		if (this.#offset + n > this.#bytes.length) throw new EntryFormatError("index entry ends early");
		const out = this.#bytes.subarray(this.#offset, this.#offset + n);
		this.#offset += n;
		return out;
	}

	string(): string {
		return decoder.decode(this.#take(this.uint()));
	}

	optionalString(): string | undefined {
		return this.uint() === 1 ? this.string() : undefined;
	}

	hex(): string {
		const n = this.uint();
		if (n === 0) return this.string();
		return toHex(this.#take(n - 1));
	}
}
