// The bar over every page: the way back to search, and the stored token's "forget" button.
import { dropToken } from "../api/client.ts";
import { onLinkClick } from "../navigation.ts";
import { useViewerState } from "../state/store.ts";

export function TopBar() {
	const hasToken = useViewerState((s) => s.auth.hasToken);
	return (
		<header class="top-bar">
			<a class="brand" href="/ui/" onClick={(e) => onLinkClick(e, "/ui/")}>
				Trace assembler
			</a>
			<nav>
				<a href="/ui/" onClick={(e) => onLinkClick(e, "/ui/")}>
					Search
				</a>
				{hasToken && (
					<button type="button" class="link-button" data-forget-token onClick={() => dropToken()} title="Remove the token this browser keeps for this server">
						Forget token
					</button>
				)}
			</nav>
		</header>
	);
}
