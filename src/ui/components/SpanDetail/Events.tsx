// A span's events (logs, exceptions), each at its offset from the span's start, with attributes.
import type { OtlpEvent } from "../../../otlp/json-types.ts";
import { formatDurationUs } from "../../trace/format.ts";
import { micros } from "../../trace/trace-model.ts";
import { Attributes } from "./Attributes.tsx";

export function Events({ events, spanStartUs }: { events: readonly OtlpEvent[]; spanStartUs: number }) {
	return (
		<section class="facet">
			<h3>Events ({events.length})</h3>
			{events.length === 0 ? (
				<p class="hint">none</p>
			) : (
				<ol class="events">
					{events.map((event) => (
						<li>
							<strong>{event.name || "(unnamed)"}</strong> <span class="hint">+{formatDurationUs(micros(event.timeUnixNano) - spanStartUs)}</span>
							{(event.attributes?.length ?? 0) > 0 && <Attributes attributes={event.attributes ?? []} />}
						</li>
					))}
				</ol>
			)}
		</section>
	);
}
