// Moving a span into another trace, at the byte level: only the trace id, a root's parent, and the
// attribute that remembers where the span came from change. Appending works because a later
// occurrence of a singular protobuf field overrides an earlier one, and repeated fields
// (attributes) concatenate (protobuf encoding spec, "Last One Wins").
import { BinaryReader, BinaryWriter, WireType } from "@bufbuild/protobuf/wire";
import { keyValueMatching, ORIGINAL_TRACE_ID_ATTRIBUTE, ORIGINAL_TRACE_ID_KEY } from "../otlp/span-facts";
import { concatBytes, isZero, toHex } from "../otlp/wire";

/**
 * The span moved into trace `toTraceId`: its trace id replaced, its parent set to `rootParent` if
 * it had none, and `assembler.original_trace_id` added unless it already records an earlier origin.
 */
export function moveSpan(span: Uint8Array, toTraceId: Uint8Array, rootParent: Uint8Array): Uint8Array {
	const parts: Uint8Array[] = [];
	let traceId: Uint8Array | undefined;
	let hasParent = false;
	let hasOrigin = false;
	const reader = new BinaryReader(span);
	let copyFrom = 0;
	while (reader.pos < reader.len) {
		const start = reader.pos;
		const [field, wireType] = reader.tag();
		if (field === 1 && wireType === WireType.LengthDelimited) {
			traceId = reader.bytes();
			// Drop this field from the copy; the new trace id is written first.
			parts.push(span.subarray(copyFrom, start));
			copyFrom = reader.pos;
		} else if (field === 4 && wireType === WireType.LengthDelimited) {
			const parent = reader.bytes();
			hasParent = parent.length === 8 && !isZero(parent);
		} else if (field === 9 && wireType === WireType.LengthDelimited) {
			hasOrigin ||= keyValueMatching(reader.bytes(), [ORIGINAL_TRACE_ID_KEY]) !== undefined;
		} else {
			reader.skip(wireType, field);
		}
	}
	parts.push(span.subarray(copyFrom));
	const head = new BinaryWriter().tag(1, WireType.LengthDelimited).bytes(toTraceId).finish();
	const tail = new BinaryWriter();
	if (!hasParent) tail.tag(4, WireType.LengthDelimited).bytes(rootParent);
	if (!hasOrigin && traceId && traceId.length === 16) {
		tail.tag(9, WireType.LengthDelimited).fork();
		tail.tag(1, WireType.LengthDelimited).string(ORIGINAL_TRACE_ID_ATTRIBUTE);
		tail.tag(2, WireType.LengthDelimited).fork().tag(1, WireType.LengthDelimited).string(toHex(traceId)).join();
		tail.join();
	}
	return concatBytes([head, ...parts, tail.finish()]);
}
