// The live protocol's JSON text frames (GET /v1/traces/{id}/live; README, "Live progress"); their
// types, shared with the web viewer, are in frame-types.ts.
import type { JsonObject } from "@bufbuild/protobuf";
import type { OtlpResourceSpans } from "../otlp/json-types";
import { tracesDataToJson } from "../otlp/json-out";
import type { LiveFrame, TraceStatus } from "./frame-types";

export type { TraceStatus } from "./frame-types";

const frame = (f: LiveFrame): string => JSON.stringify(f);
// json-out writes the OTLP/JSON that json-types describes.
const resourceSpansOf = (chunk: Uint8Array): OtlpResourceSpans[] => (tracesDataToJson(chunk) as JsonObject & { resourceSpans: OtlpResourceSpans[] }).resourceSpans;

/** The snapshot, one frame per TracesData chunk; only the final frame says `"last": true`. */
export function snapshotFrames(status: TraceStatus, chunks: readonly Uint8Array[]): string[] {
	const parts = chunks.length > 0 ? chunks : [new Uint8Array(0)];
	return parts.map((chunk, i) => frame({ type: "snapshot", status, resourceSpans: resourceSpansOf(chunk), last: i === parts.length - 1 }));
}

export function spansFrame(batch: Uint8Array): string {
	return frame({ type: "spans", resourceSpans: resourceSpansOf(batch) });
}

export const reopenedFrame = (): string => frame({ type: "reopened" });
export const mergedFrame = (traceId: string, rule: string): string => frame({ type: "merged", traceId, rule });
export const finalizedFrame = (spanCount: number, key: string): string => frame({ type: "finalized", spanCount, key });
export const redirectFrame = (traceId: string): string => frame({ type: "redirect", traceId });
export const errorFrame = (message: string): string => frame({ type: "error", message });
