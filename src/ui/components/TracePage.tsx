// /ui/trace/<traceId>: the header of what the API says about the trace, the waterfall, and the
// selected span's detail. The trace controller keeps it live over the WebSocket.
import { useEffect } from "preact/hooks";
import { useViewerState } from "../state/store.ts";
import { closeTrace, openTrace } from "../trace/trace-controller.ts";
import { SpanDetail } from "./SpanDetail/SpanDetail.tsx";
import { TraceHeader } from "./TraceHeader.tsx";
import { Waterfall } from "./Waterfall.tsx";

export function TracePage({ traceId }: { traceId: string }) {
	const epoch = useViewerState((s) => s.auth.epoch);
	const trace = useViewerState((s) => s.trace);
	useEffect(() => {
		document.title = `Trace ${traceId.slice(0, 8)} · Trace assembler`;
		void openTrace(traceId);
		return () => closeTrace();
	}, [traceId, epoch]);
	const selected = trace.selectedSpanId ? trace.model.span(trace.selectedSpanId) : undefined;
	return (
		<div class="trace-page">
			<TraceHeader trace={trace} />
			<div class="trace-body">
				<Waterfall trace={trace} />
				{selected && <SpanDetail span={selected} traceStartUs={trace.model.startUs} />}
			</div>
		</div>
	);
}
