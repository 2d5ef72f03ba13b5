// The bearer token, kept in this origin's localStorage. It goes out only as the Authorization header
// and as the WebSocket subprotocol pair ["bearer", token]; never in a URL.
const KEY = "trace-assembler.token";

export function storedToken(): string | undefined {
	try {
		return localStorage.getItem(KEY) ?? undefined;
	} catch {
		// Storage can be off (privacy settings): the viewer then works without a remembered token.
		return undefined;
	}
}

export function storeToken(token: string): void {
	try {
		localStorage.setItem(KEY, token);
	} catch {
		// See storedToken.
	}
}

export function forgetToken(): void {
	try {
		localStorage.removeItem(KEY);
	} catch {
		// See storedToken.
	}
}
