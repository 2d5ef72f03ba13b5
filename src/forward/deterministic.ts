// Deterministic 1-in-N by trace id, in the manner of Refinery's DeterministicSampler: the first
// four bytes of SHA-1 over the trace id (lowercase hex) as a big-endian number, kept when at most
// 2^32-1 divided by N. Every instance, every restart and every late span computes the same answer
// from the id alone, with no state to share.
import { createHash } from "node:crypto";

const MAX_UINT32 = 0xffff_ffff;

export function keepsOneIn(traceId: string, sampleRate: number): boolean {
	if (sampleRate <= 1) return true;
	const digest = createHash("sha1").update(traceId.toLowerCase()).digest();
	return digest.readUInt32BE(0) <= Math.floor(MAX_UINT32 / sampleRate);
}
