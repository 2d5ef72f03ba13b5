// A list of OTLP key-values: a span's, an event's, a link's, the resource's or the scope's.
import type { OtlpKeyValue } from "../../../otlp/json-types.ts";
import { formatAnyValue } from "../../trace/format.ts";

export function Attributes({ title, attributes, empty = "none" }: { title?: string; attributes: readonly OtlpKeyValue[]; empty?: string }) {
	return (
		<section class="facet">
			{title && <h3>{title}</h3>}
			{attributes.length === 0 ? (
				<p class="hint">{empty}</p>
			) : (
				<table class="attributes">
					<tbody>
						{attributes.map((a) => (
							<tr>
								<th>{a.key}</th>
								<td>{formatAnyValue(a.value)}</td>
							</tr>
						))}
					</tbody>
				</table>
			)}
		</section>
	);
}
