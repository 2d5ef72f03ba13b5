// The viewer's pages are URLs under /ui/ (deep links work: the Worker's assets serve index.html for
// every path below /ui/). Links inside the viewer change the URL with the History API.
import { parseSearchQuery } from "./search/search-query.ts";
import { setState, type Route } from "./state/store.ts";

export function routeOf(location: { pathname: string; search: string }): Route {
	const trace = /^\/ui\/trace\/([^/]+)\/?$/.exec(location.pathname);
	if (trace) return { page: "trace", traceId: decodeURIComponent(trace[1]!) };
	return { page: "search", query: parseSearchQuery(location.search) };
}

export function navigate(url: string, replace = false): void {
	if (replace) history.replaceState(null, "", url);
	else history.pushState(null, "", url);
	setState(() => ({ route: routeOf(location) }));
}

export function startNavigation(): void {
	setState(() => ({ route: routeOf(location) }));
	addEventListener("popstate", () => setState(() => ({ route: routeOf(location) })));
}

/** A click on an in-viewer link that the browser would open in this tab: navigate without a reload. */
export function onLinkClick(event: MouseEvent, url: string): void {
	if (event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
	event.preventDefault();
	navigate(url);
}

export const traceUrl = (traceId: string): string => `/ui/trace/${traceId}`;
