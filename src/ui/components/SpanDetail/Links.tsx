// A span's links to spans in this or other traces; another trace's link opens that trace.
import type { OtlpLink } from "../../../otlp/json-types.ts";
import { onLinkClick, traceUrl } from "../../navigation.ts";
import { Attributes } from "./Attributes.tsx";

export function Links({ links }: { links: readonly OtlpLink[] }) {
	return (
		<section class="facet">
			<h3>Links ({links.length})</h3>
			{links.length === 0 ? (
				<p class="hint">none</p>
			) : (
				<ul class="links">
					{links.map((link) => (
						<li>
							<a class="mono" href={traceUrl(link.traceId)} onClick={(e) => onLinkClick(e, traceUrl(link.traceId))}>
								{link.traceId}
							</a>{" "}
							span <span class="mono">{link.spanId}</span>
							{(link.attributes?.length ?? 0) > 0 && <Attributes attributes={link.attributes ?? []} />}
						</li>
					))}
				</ul>
			)}
		</section>
	);
}
