// /ui/ and /ui/?q=...: the search form, and the results of the search the URL names.
import { useEffect } from "preact/hooks";
import { loadSuggestions, runSearch, stopSearch } from "../search/search-controller.ts";
import type { SearchQuery } from "../search/search-query.ts";
import { useViewerState } from "../state/store.ts";
import { ResultsTable } from "./ResultsTable.tsx";
import { SearchForm } from "./SearchForm.tsx";

export function SearchPage({ query }: { query: SearchQuery | undefined }) {
	const epoch = useViewerState((s) => s.auth.epoch);
	useEffect(() => {
		document.title = "Search · Trace assembler";
		void loadSuggestions();
	}, [epoch]);
	useEffect(() => {
		if (query) void runSearch(query);
		return () => stopSearch();
	}, [query, epoch]);
	return (
		<div class="search-page">
			<SearchForm initial={query} />
			<ResultsTable />
		</div>
	);
}
