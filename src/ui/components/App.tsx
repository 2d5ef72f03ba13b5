// The page frame: the top bar, the page the URL names, and the token prompt when the API wants one.
import { useViewerState } from "../state/store.ts";
import { SearchPage } from "./SearchPage.tsx";
import { TokenPrompt } from "./TokenPrompt.tsx";
import { TopBar } from "./TopBar.tsx";
import { TracePage } from "./TracePage.tsx";

export function App() {
	const route = useViewerState((s) => s.route);
	const authNeeded = useViewerState((s) => s.auth.needed);
	return (
		<div class="app">
			<TopBar />
			<main class="page">{route.page === "trace" ? <TracePage traceId={route.traceId} /> : <SearchPage query={route.query} />}</main>
			{authNeeded && <TokenPrompt />}
		</div>
	);
}
