// The search form: time range, filters composed into TraceQL, and the TraceQL itself, editable.
// Submitting puts the search in the URL (a search is a link) and the page runs it from there.
import { useState } from "preact/hooks";
import { navigate } from "../navigation.ts";
import { DEFAULT_LIMIT, RANGE_PRESETS, resolveRange, searchQueryUrl, type RangePreset, type SearchQuery, type TimeRange } from "../search/search-query.ts";
import { filtersToTraceQL, NO_FILTERS, type SearchFilters } from "../search/traceql.ts";
import { useViewerState } from "../state/store.ts";

const PRESET_LABELS: Record<RangePreset, string> = { "15m": "Last 15 min", "1h": "Last 1 h", "6h": "Last 6 h", "24h": "Last 24 h" };

export function SearchForm({ initial }: { initial: SearchQuery | undefined }) {
	const [filters, setFilters] = useState<SearchFilters>(NO_FILTERS);
	const [traceQL, setTraceQL] = useState(initial?.q ?? "{}");
	const [range, setRange] = useState<TimeRange>(initial?.range ?? { preset: "1h" });
	const suggestions = useViewerState((s) => s.search);

	const setFilter = (name: keyof SearchFilters, value: string) => {
		const next = { ...filters, [name]: value };
		setFilters(next);
		// The filters write the query; the box stays editable for anything they cannot say.
		setTraceQL(filtersToTraceQL(next));
	};
	const submit = (e: Event) => {
		e.preventDefault();
		navigate(searchQueryUrl({ q: traceQL.trim() || "{}", range, limit: initial?.limit ?? DEFAULT_LIMIT }));
	};
	const custom = "start" in range ? range : undefined;

	return (
		<form class="search-form" data-search-form onSubmit={submit}>
			<div class="form-row">
				<label>
					Time range
					<select
						name="range"
						value={custom ? "custom" : (range as { preset: RangePreset }).preset}
						onChange={(e) => {
							const v = e.currentTarget.value;
							setRange(v === "custom" ? resolveRange(range) : { preset: v as RangePreset });
						}}
					>
						{(Object.keys(RANGE_PRESETS) as RangePreset[]).map((p) => (
							<option value={p}>{PRESET_LABELS[p]}</option>
						))}
						<option value="custom">Custom</option>
					</select>
				</label>
				{custom && (
					<>
						<label>
							From
							<input type="datetime-local" name="start" step="1" value={toLocalInput(custom.start)} onChange={(e) => setRange({ ...custom, start: fromLocalInput(e.currentTarget.value, custom.start) })} />
						</label>
						<label>
							To
							<input type="datetime-local" name="end" step="1" value={toLocalInput(custom.end)} onChange={(e) => setRange({ ...custom, end: fromLocalInput(e.currentTarget.value, custom.end) })} />
						</label>
					</>
				)}
			</div>
			<div class="form-row">
				<label>
					Service
					<input name="service" list="service-names" value={filters.service} onInput={(e) => setFilter("service", e.currentTarget.value)} />
				</label>
				<label>
					Span name
					<input name="spanName" list="span-names" value={filters.spanName} onInput={(e) => setFilter("spanName", e.currentTarget.value)} />
				</label>
				<label>
					Status
					<select name="status" value={filters.status} onChange={(e) => setFilter("status", e.currentTarget.value)}>
						<option value="">any</option>
						<option value="error">error</option>
						<option value="ok">ok</option>
						<option value="unset">unset</option>
					</select>
				</label>
				<label>
					Min duration
					<input name="minDuration" placeholder="100ms" size={7} value={filters.minDuration} onInput={(e) => setFilter("minDuration", e.currentTarget.value)} />
				</label>
				<label>
					Max duration
					<input name="maxDuration" placeholder="5s" size={7} value={filters.maxDuration} onInput={(e) => setFilter("maxDuration", e.currentTarget.value)} />
				</label>
				<label>
					Attribute
					<input name="attributeKey" list="attribute-keys" placeholder="http.route" value={filters.attributeKey} onInput={(e) => setFilter("attributeKey", e.currentTarget.value)} />
				</label>
				<label>
					= value
					<input name="attributeValue" value={filters.attributeValue} onInput={(e) => setFilter("attributeValue", e.currentTarget.value)} />
				</label>
			</div>
			<div class="form-row traceql-row">
				<label class="grow">
					TraceQL
					<input name="q" class="mono" spellcheck={false} value={traceQL} onInput={(e) => setTraceQL(e.currentTarget.value)} />
				</label>
				<button type="submit">Search</button>
			</div>
			<datalist id="service-names">{suggestions.serviceNames.map((v) => <option value={v} />)}</datalist>
			<datalist id="span-names">{suggestions.spanNames.map((v) => <option value={v} />)}</datalist>
			<datalist id="attribute-keys">{suggestions.attributeKeys.map((v) => <option value={v} />)}</datalist>
		</form>
	);
}

function toLocalInput(unixSeconds: number): string {
	const d = new Date(unixSeconds * 1000 - new Date().getTimezoneOffset() * 60_000);
	return d.toISOString().slice(0, 19);
}

function fromLocalInput(value: string, fallback: number): number {
	const ms = new Date(value).getTime();
	return Number.isFinite(ms) ? Math.floor(ms / 1000) : fallback;
}
