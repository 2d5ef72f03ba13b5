// The viewer's state, in one place: what page is shown, the token prompt, the search and the trace
// being viewed. Controllers (search/search-controller.ts, trace/trace-controller.ts) change it;
// components read it through useViewerState and re-render when it changes.
import { useEffect, useState } from "preact/hooks";
import type { TraceStatus } from "../../live/frame-types.ts";
import type { SearchQuery } from "../search/search-query.ts";
import type { SearchTrace } from "../api/tempo.ts";
import { TraceModel } from "../trace/trace-model.ts";

export type Route = { page: "search"; query: SearchQuery | undefined } | { page: "trace"; traceId: string };

export interface AuthState {
	/** The API answered 401: the token prompt is open. */
	needed: boolean;
	/** Why the last token was not accepted, if it was not. */
	message?: string;
	hasToken: boolean;
	/** Bumped when a token is saved or forgotten: pages re-run what the 401 interrupted. */
	epoch: number;
}

export type ResultStatus = "partial" | "complete" | "unknown";

export interface SearchState {
	/** The query the results answer (undefined before the first search). */
	ran?: SearchQuery;
	loading: boolean;
	error?: string;
	results: SearchTrace[];
	/** Open or complete, per trace id, from HEAD /v1/traces/{id}. */
	statuses: Record<string, ResultStatus>;
	/** Autocomplete: tag names by scope and the values of the tags asked for. */
	serviceNames: string[];
	spanNames: string[];
	attributeKeys: string[];
}

export interface MergeNote {
	traceId: string;
	/** The rule that merged it (traceparent, link, hint), or the reason a merge was refused. */
	detail: string;
}

export interface TraceState {
	/** The id in the URL. */
	requestedId: string;
	/** The trace shown: the requested one, or the trace it was merged into. */
	traceId: string;
	/** Set when the requested trace was merged into `traceId`. */
	mergedFrom?: string;
	status: TraceStatus;
	/** The live socket: connecting, live, or reconnecting after a drop. */
	connection: "connecting" | "live" | "reconnecting" | "closed";
	/** The snapshot has fully arrived. */
	loaded: boolean;
	model: TraceModel;
	merged: MergeNote[];
	refused: MergeNote[];
	droppedSpans: number;
	/** The tail-sampling decision (x-trace-sampling), once the trace was finalized with forwarding on. */
	sampling?: SamplingNote;
	selectedSpanId?: string;
	collapsed: ReadonlySet<string>;
	error?: string;
}

export interface SamplingNote {
	kept: boolean;
	rule: string;
	rate: number;
}

export interface ViewerState {
	route: Route;
	auth: AuthState;
	search: SearchState;
	trace: TraceState;
}

export function emptyTrace(requestedId = ""): TraceState {
	return {
		requestedId,
		traceId: requestedId,
		status: "waiting",
		connection: "connecting",
		loaded: false,
		model: new TraceModel(),
		merged: [],
		refused: [],
		droppedSpans: 0,
		collapsed: new Set(),
	};
}

let state: ViewerState = {
	route: { page: "search", query: undefined },
	auth: { needed: false, hasToken: false, epoch: 0 },
	search: { loading: false, results: [], statuses: {}, serviceNames: [], spanNames: [], attributeKeys: [] },
	trace: emptyTrace(),
};
const listeners = new Set<() => void>();

export function getState(): ViewerState {
	return state;
}

export function setState(change: (s: ViewerState) => Partial<ViewerState>): void {
	state = { ...state, ...change(state) };
	for (const listener of listeners) listener();
}

export function updateTrace(change: (t: TraceState) => Partial<TraceState>): void {
	setState((s) => ({ trace: { ...s.trace, ...change(s.trace) } }));
}

export function updateSearch(change: (t: SearchState) => Partial<SearchState>): void {
	setState((s) => ({ search: { ...s.search, ...change(s.search) } }));
}

/** The part of the state a component shows; it re-renders when that part changes. */
export function useViewerState<T>(select: (s: ViewerState) => T): T {
	const [, rerender] = useState(0);
	useEffect(() => {
		let last = select(state);
		const listener = () => {
			const next = select(state);
			if (next !== last) {
				last = next;
				rerender((n) => n + 1);
			}
		};
		listeners.add(listener);
		return () => void listeners.delete(listener);
	}, []);
	return select(state);
}
