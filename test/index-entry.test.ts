// The compact stored form of an index entry (src/search/entry-codec.ts): decoding gives back the
// entry buildEntry made, field for field, whatever the values, times and ids hold.
import { describe, expect, it } from "vitest";
import { buildEntry, type TraceEntry } from "../src/search/entry";
import { decodeEntry, encodeEntry, EntryFormatError } from "../src/search/entry-codec";
import { protobufRequest, randomHex, type SpanSpec } from "./helpers";

function entryOf(spans: SpanSpec[]): TraceEntry {
	return buildEntry(spans[0]!.traceId, protobufRequest(spans));
}

describe("index entry encoding", () => {
	it("decodes to the entry it encoded: every value type, ns-precise times, ids, status, no root", () => {
		const traceId = randomHex(16);
		const root = randomHex(8);
		const spans: SpanSpec[] = [
			{
				traceId, spanId: root, name: "GET /ünïcode ✓", service: "front", kind: 2, startNs: 1_764_000_000_123_456_789n, endNs: 1_764_000_000_223_456_790n, statusCode: 2,
				attributes: { "s": "plain", "hex.lower": "0123456789abcdef0123", "hex.upper": "0123456789ABCDEF", "hex.odd": "abc", "neg": -42, "big": 2 ** 53 + 2, "ratio": 0.25, "yes": true, "no": false, "list": ["a", "b"], "empty": "" },
			},
			{ traceId, spanId: randomHex(8), parentSpanId: root, name: "child", service: "back", startNs: 1_764_000_000_124_000_000n, endNs: 1_764_000_000_124_001_000n, attributes: { "neg": -1, "s": "plain" } },
			// Starts before the root: the trace's start moves, offsets stay non-negative.
			{ traceId, spanId: randomHex(8), parentSpanId: root, name: "early", service: "back", startNs: 1_764_000_000_000_000_001n, endNs: 1_764_000_000_000_000_001n },
		];
		const entry = entryOf(spans);
		expect(entry.values.length).toBeGreaterThan(10);
		expect(decodeEntry(encodeEntry(entry))).toStrictEqual(entry);
		// Without a parentless span there is no root, and decoding leaves the fields out as buildEntry does.
		const orphan = entryOf([{ ...spans[1]! }]);
		expect(orphan.rootName).toBeUndefined();
		expect(decodeEntry(encodeEntry(orphan))).toStrictEqual(orphan);
	});

	it("keeps what the caps dropped, and refuses bytes it did not write", () => {
		const entry: TraceEntry = { ...entryOf([{ traceId: randomHex(16), spanId: randomHex(8), name: "x" }]), dropped: { spans: 3, values: 7 } };
		expect(decodeEntry(encodeEntry(entry))).toStrictEqual(entry);
		expect(() => decodeEntry(new Uint8Array([9, 1, 2]))).toThrow(EntryFormatError);
		expect(() => decodeEntry(new Uint8Array([1, 0xff, 0xff]))).toThrow(EntryFormatError);
	});
});
