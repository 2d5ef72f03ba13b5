// What travels on the forwarding queue: one message per destination and per piece of a trace
// (a piece is at most FORWARD_MAX_BYTES of spans, one OTLP request). The spans ride inline when
// they fit a message (128 KB, Queues limits); a bigger piece is written to R2 once under
// `forward/` and the messages carry its key.
import type { Decision } from "./rules";

export interface ForwardMessage {
	tenant: string;
	traceId: string;
	destination: string;
	decision: Decision;
	/** The finalization this piece came from (the trace object's part seq), for logs and the DLQ. */
	upTo: number;
	/** Pieces of one finalization: 0, 1, ... of `pieces`. */
	piece: number;
	pieces: number;
	spans: number;
	/** TracesData with SampleRate and sampling.rule on every span. */
	payload?: Uint8Array;
	/** R2 key of the piece when it did not fit a message. */
	payloadKey?: string;
}

/** What the dead-letter queue holds: the message and why it was given up. */
export interface DeadLetter extends ForwardMessage {
	/** The destination's HTTP status, or 0 for a network error. */
	status: number;
	/** The first 1 KB of the destination's answer, or the error. */
	reason: string;
	attempts: number;
	at: number;
}

/** A message at most this big carries its spans inline (Queues' limit is 128 KB with metadata). */
export const INLINE_MAX_BYTES = 120_000;

export function forwardPieceKey(tenant: string, traceId: string, upTo: number, piece: number): string {
	return `forward/${tenant ? `${tenant}/` : ""}${traceId}/${upTo}-${piece}.binpb`;
}
