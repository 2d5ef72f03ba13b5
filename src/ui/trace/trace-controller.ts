// Loads the trace page's state: HEAD /v1/traces/{id} for what the read API's headers say (status,
// merges, refusals, dropped spans; a 308 when the id was merged into another trace), and the live
// socket for the spans themselves — its snapshot holds everything so far, then deltas follow.
import type { LiveFrame } from "../../live/frame-types.ts";
import { apiFetch, authLikelyAccepted, errorMessage, isAuthRequired } from "../api/client.ts";
import { LiveSocket } from "../live/live-socket.ts";
import { emptyTrace, getState, setState, updateTrace, type MergeNote, type SamplingNote } from "../state/store.ts";

let socket: LiveSocket | undefined;
/** Settles when the current socket's snapshot has fully arrived, or the socket gave up or moved on. */
let snapshotIn: Promise<void> = Promise.resolve();
let settleSnapshot = () => {};
/** The header request waits at most this long for the snapshot. */
const SNAPSHOT_WAIT_MS = 5_000;

/** Shows trace `requestedId`; called when the page opens and again after a token is saved. */
export async function openTrace(requestedId: string): Promise<void> {
	closeTrace();
	const id = normalizeTraceId(requestedId);
	setState(() => ({ trace: emptyTrace(id ?? requestedId) }));
	if (!id) {
		updateTrace(() => ({ error: `${JSON.stringify(requestedId.slice(0, 64))} is not a trace id: expected up to 32 hex digits`, connection: "closed" }));
		return;
	}
	// The snapshot is the slow part of a big trace: ask for it first when the server is likely to
	// accept us, and read the headers once it is in (both make the trace's object assemble the whole
	// trace, one after the other). With no token and no answer yet the headers go first: a refused
	// upgrade cannot be told from a network error, and the browser logs it.
	if (authLikelyAccepted()) {
		connect(id);
		await Promise.race([snapshotIn, new Promise((r) => setTimeout(r, SNAPSHOT_WAIT_MS))]);
		if (getState().trace.requestedId !== id) return;
	}
	const headers = await readHeaders(id);
	if (getState().trace.requestedId !== id) return;
	if (headers === "auth" || !headers.readable) {
		closeTrace();
		if (headers !== "auth") updateTrace(() => ({ connection: "closed" }));
		return;
	}
	if (headers.traceId !== id) follow(headers.traceId);
	else if (!socket) connect(id);
}

/** The trace shown was merged into `target` (a 308, or a `redirect` frame): show that one, saying so. */
function follow(target: string): void {
	if (socket?.traceId === target) return; // The other signal got there first.
	closeTrace();
	setState((s) => ({ trace: { ...emptyTrace(s.trace.requestedId), traceId: target, mergedFrom: s.trace.mergedFrom ?? s.trace.traceId } }));
	connect(target);
	void readHeaders(target).then((h) => {
		if (h !== "auth" && h.readable && h.traceId !== target && getState().trace.traceId === target) follow(h.traceId);
	});
}

/** 1-32 hex digits in either case, left-padded as Tempo prints ids without leading zeros. */
function normalizeTraceId(raw: string): string | undefined {
	const t = raw.trim().toLowerCase();
	return /^[0-9a-f]{1,32}$/.test(t) && !/^0+$/.test(t) ? t.padStart(32, "0") : undefined;
}

export function closeTrace(): void {
	socket?.close();
	socket = undefined;
}

interface HeaderFacts {
	traceId: string;
	/** False when the API refused the trace (not a 404, which only means nothing arrived yet). */
	readable: boolean;
}

/** Reads the headers into the state; the trace id is the one the 308 chain ended at. */
async function readHeaders(id: string): Promise<HeaderFacts | "auth"> {
	let response: Response;
	try {
		response = await apiFetch(`/v1/traces/${id}`, { method: "HEAD" });
	} catch (e) {
		if (isAuthRequired(e)) return "auth";
		updateTrace(() => ({ error: `could not read the trace: ${e instanceof Error ? e.message : String(e)}` }));
		return { traceId: id, readable: true };
	}
	const finalId = /\/v1\/traces\/([0-9a-f]{32})$/i.exec(new URL(response.url).pathname)?.[1]?.toLowerCase() ?? id;
	if (response.status === 404) return { traceId: finalId, readable: true }; // Nothing arrived yet: the socket says "waiting".
	if (!response.ok) {
		const message = await errorMessage(response);
		updateTrace(() => ({ error: `the read API answered ${response.status}: ${message}` }));
		return { traceId: finalId, readable: false };
	}
	const status = response.headers.get("x-trace-status");
	updateTrace((t) => ({
		status: status === "complete" || status === "partial" ? status : t.status,
		merged: unionNotes(t.merged, parseNotes(response.headers.get("x-trace-merged"))),
		refused: parseNotes(response.headers.get("x-trace-refused-merges")),
		droppedSpans: Number(response.headers.get("x-trace-dropped-spans") ?? 0) || 0,
		sampling: parseSampling(response.headers.get("x-trace-sampling")) ?? t.sampling,
	}));
	return { traceId: finalId, readable: true };
}

function connect(traceId: string): void {
	settleSnapshot();
	snapshotIn = new Promise((resolve) => (settleSnapshot = resolve));
	const live = new LiveSocket(traceId, {
		frame: (frame) => {
			if ((frame.type === "snapshot" && frame.last) || frame.type === "redirect") settleSnapshot();
			applyFrame(traceId, frame);
		},
		connection: (connection) => {
			if (connection === "reconnecting" || connection === "closed") settleSnapshot();
			if (socket === live) updateTrace(() => ({ connection }));
		},
		failed: (message) => {
			settleSnapshot();
			updateTrace(() => ({ error: message, connection: "closed" }));
		},
	});
	socket = live;
}

function applyFrame(traceId: string, frame: LiveFrame): void {
	const trace = getState().trace;
	if (trace.traceId !== traceId) return;
	switch (frame.type) {
		case "snapshot":
			trace.model.add(frame.resourceSpans);
			if (trace.status !== frame.status || frame.last) updateTrace(() => ({ status: frame.status, loaded: frame.last || trace.loaded }));
			else renderSoon();
			break;
		case "spans":
			if (trace.model.add(frame.resourceSpans) > 0) renderSoon();
			break;
		case "merged":
			updateTrace((t) => ({ merged: unionNotes(t.merged, [{ traceId: frame.traceId, detail: frame.rule }]) }));
			break;
		case "finalized":
			updateTrace(() => ({ status: "complete" }));
			// Refusals and dropped spans are settled in what was written: read them once more.
			void readHeaders(traceId);
			break;
		case "reopened":
			updateTrace(() => ({ status: "partial" }));
			break;
		case "redirect":
			follow(frame.traceId);
			break;
		case "error":
			updateTrace(() => ({ error: frame.message }));
			break;
	}
}

let renderPending = false;

/**
 * Spans land in the model at once; the page shows them at the next frame, so a snapshot of many
 * frames, or a burst of batches, costs one re-layout of the rows instead of one per frame. A hidden
 * tab gets no animation frames: the timer catches up there.
 */
function renderSoon(): void {
	if (renderPending) return;
	renderPending = true;
	const render = () => {
		if (!renderPending) return;
		renderPending = false;
		updateTrace(() => ({}));
	};
	requestAnimationFrame(render);
	setTimeout(render, 250);
}

/** `<id>:<rule>,...` (x-trace-merged, x-trace-refused-merges). */
function parseNotes(header: string | null): MergeNote[] {
	if (!header) return [];
	return header.split(",").flatMap((entry) => {
		const [traceId, detail] = entry.trim().split(":");
		return traceId ? [{ traceId, detail: detail ?? "" }] : [];
	});
}

function unionNotes(a: MergeNote[], b: MergeNote[]): MergeNote[] {
	const seen = new Set(a.map((n) => n.traceId));
	return [...a, ...b.filter((n) => !seen.has(n.traceId))];
}

export function toggleCollapsed(spanId: string): void {
	updateTrace((t) => {
		const collapsed = new Set(t.collapsed);
		if (!collapsed.delete(spanId)) collapsed.add(spanId);
		return { collapsed };
	});
}

export function setCollapsed(spanId: string, collapsed: boolean): void {
	const t = getState().trace;
	if (t.collapsed.has(spanId) !== collapsed) toggleCollapsed(spanId);
}

export function selectSpan(spanId: string | undefined): void {
	updateTrace(() => ({ selectedSpanId: spanId }));
}

/** `kept; rule=errors; rate=1` (x-trace-sampling, src/forward/decision.ts). */
function parseSampling(header: string | null): SamplingNote | undefined {
	const match = header ? /^(kept|dropped); rule=([^;]*); rate=(\d+)$/.exec(header.trim()) : null;
	return match ? { kept: match[1] === "kept", rule: match[2]!, rate: Number(match[3]) } : undefined;
}
