// The time axis over the waterfall: the name column's title and ticks at fifths of the trace.
import { formatDurationUs } from "../trace/format.ts";

const TICKS = [0, 0.2, 0.4, 0.6, 0.8, 1];

export function TimelineHeader({ durationUs }: { durationUs: number }) {
	return (
		<div class="timeline-header">
			<div class="name-column">Service · span</div>
			<div class="time-column">
				{TICKS.map((t) => (
					<span class="tick" style={{ left: `${t * 100}%` }}>
						{formatDurationUs(t * durationUs)}
					</span>
				))}
			</div>
		</div>
	);
}
