// The live protocol's JSON text frames (GET /v1/traces/{id}/live; README, "Live progress").
import { tracesDataToJson } from "../otlp/json-out";

export type TraceStatus = "waiting" | "partial" | "complete";

/** The snapshot, one frame per TracesData chunk; only the final frame says `"last": true`. */
export function snapshotFrames(status: TraceStatus, chunks: readonly Uint8Array[]): string[] {
	const parts = chunks.length > 0 ? chunks : [new Uint8Array(0)];
	return parts.map((chunk, i) =>
		JSON.stringify({ type: "snapshot", status, resourceSpans: tracesDataToJson(chunk).resourceSpans, last: i === parts.length - 1 }),
	);
}

export function spansFrame(batch: Uint8Array): string {
	return JSON.stringify({ type: "spans", resourceSpans: tracesDataToJson(batch).resourceSpans });
}

export const reopenedFrame = (): string => JSON.stringify({ type: "reopened" });
export const mergedFrame = (traceId: string, rule: string): string => JSON.stringify({ type: "merged", traceId, rule });
export const finalizedFrame = (spanCount: number, key: string): string => JSON.stringify({ type: "finalized", spanCount, key });
export const redirectFrame = (traceId: string): string => JSON.stringify({ type: "redirect", traceId });
export const errorFrame = (message: string): string => JSON.stringify({ type: "error", message });
