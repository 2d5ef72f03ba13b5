// The live WebSocket's JSON text frames (GET /v1/traces/{id}/live; README, "API"). Types only:
// src/live/messages.ts writes them and the web viewer (src/ui/) reads them.
import type { OtlpResourceSpans } from "../otlp/json-types";

export type TraceStatus = "waiting" | "partial" | "complete";

export type LiveFrame =
	| { type: "snapshot"; status: TraceStatus; resourceSpans: OtlpResourceSpans[]; last: boolean }
	| { type: "spans"; resourceSpans: OtlpResourceSpans[] }
	| { type: "merged"; traceId: string; rule: string }
	| { type: "finalized"; spanCount: number; key: string }
	| { type: "reopened" }
	| { type: "redirect"; traceId: string }
	| { type: "error"; message: string };
