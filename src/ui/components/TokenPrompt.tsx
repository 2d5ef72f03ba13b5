// Asked for when the API answers 401: a bearer token (a read-scope token is enough), kept in this
// browser's localStorage for this origin until "Forget token".
import { useState } from "preact/hooks";
import { saveToken } from "../api/client.ts";
import { useViewerState } from "../state/store.ts";

export function TokenPrompt() {
	const message = useViewerState((s) => s.auth.message);
	const [token, setToken] = useState("");
	const submit = (e: Event) => {
		e.preventDefault();
		if (token.trim()) saveToken(token.trim());
	};
	return (
		<div class="modal-backdrop">
			<form class="modal token-prompt" data-token-prompt onSubmit={submit}>
				<h2>This server needs a token</h2>
				<p>
					Enter one of the server's <code>AUTH_TOKENS</code> (a read-scope token is enough). It stays in this browser for this site, is sent only as{" "}
					<code>Authorization: Bearer</code>, and can be forgotten from the top bar.
				</p>
				{message && <p class="error">{message}</p>}
				<label>
					Token
					<input type="password" name="token" autocomplete="current-password" value={token} onInput={(e) => setToken(e.currentTarget.value)} autofocus />
				</label>
				<button type="submit" disabled={!token.trim()}>
					Use token
				</button>
			</form>
		</div>
	);
}
