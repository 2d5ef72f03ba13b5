// Marks each forwarded span with what sampling decided, the convention Honeycomb and Refinery use
// so a backend can re-weight counts: `SampleRate` (int, the kept trace stands for this many) and
// `sampling.rule` (string). Appending a KeyValue to a span's field 9 is valid protobuf (repeated
// fields may come in any order), so the span is not decoded.
import { BinaryWriter } from "@bufbuild/protobuf/wire";
import { concatBytes, forEachSpan, TracesDataWriter } from "../otlp/wire";
import type { Decision } from "./rules";

export const SAMPLE_RATE_ATTRIBUTE = "SampleRate";
export const SAMPLING_RULE_ATTRIBUTE = "sampling.rule";

/** The two attributes as encoded Span field-9 entries, written once per decision. */
export function stampFor(decision: Decision): Uint8Array {
	const writer = new BinaryWriter();
	writer.tag(9, 2).fork().tag(1, 2).string(SAMPLE_RATE_ATTRIBUTE).tag(2, 2).fork().tag(3, 0).int64(decision.sampleRate).join().join();
	writer.tag(9, 2).fork().tag(1, 2).string(SAMPLING_RULE_ATTRIBUTE).tag(2, 2).fork().tag(1, 2).string(decision.rule).join().join();
	return writer.finish();
}

export interface HeldSpan {
	readonly resource: Uint8Array;
	readonly scope: Uint8Array;
	readonly body: Uint8Array;
}

/** Every span of `encoded` (a TracesData). */
export function spansOf(encoded: Uint8Array): HeldSpan[] {
	const spans: HeldSpan[] = [];
	forEachSpan(encoded, (resource, scope, body) => spans.push({ resource, scope, body }));
	return spans;
}

/** The spans, stamped, as TracesData pieces of at most about `maxBytes` each. */
export function stampedPieces(spans: readonly HeldSpan[], decision: Decision, maxBytes: number): { payload: Uint8Array; spans: number }[] {
	const stamp = stampFor(decision);
	const pieces: { payload: Uint8Array; spans: number }[] = [];
	let writer = new TracesDataWriter();
	let size = 0;
	for (const span of spans) {
		const body = concatBytes([span.body, stamp]);
		if (writer.spanCount > 0 && size + body.length > maxBytes) {
			pieces.push({ payload: writer.finish(), spans: writer.spanCount });
			writer = new TracesDataWriter();
			size = 0;
		}
		writer.add(span.resource, span.scope, body);
		// Heads are shared within a piece; a span adds its bytes and a few of framing.
		size += body.length + 16;
	}
	if (writer.spanCount > 0) pieces.push({ payload: writer.finish(), spans: writer.spanCount });
	return pieces;
}
