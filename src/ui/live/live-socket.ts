// The one live connection of the trace page: GET /v1/traces/{id}/live as a WebSocket, the token as
// the subprotocol pair ["bearer", token] (a browser cannot set headers on a WebSocket, and the
// token must stay out of the URL). A dropped connection is re-opened with backoff; the new
// snapshot repeats spans already shown, which the trace model ignores. No polling.
import type { LiveFrame } from "../../live/frame-types.ts";
import { storedToken } from "../api/auth-token.ts";

export interface LiveHandlers {
	frame(frame: LiveFrame): void;
	connection(state: "connecting" | "live" | "reconnecting" | "closed"): void;
	/** The socket could not be opened at all (e.g. a token that is not a valid subprotocol). */
	failed(message: string): void;
}

const MAX_BACKOFF_MS = 10_000;
/**
 * A quiet trace sends nothing for minutes, and proxies close idle WebSockets (Cloudflare's after
 * about 100 s): a text `ping` keeps it open. The runtime answers `pong` without waking the trace's
 * object (README, "API"), so this is no polling — it asks for nothing.
 */
const KEEPALIVE_MS = 30_000;

export class LiveSocket {
	#socket?: WebSocket;
	#closed = false;
	#backoffMs = 500;
	#retry?: ReturnType<typeof setTimeout>;
	#keepalive?: ReturnType<typeof setInterval>;

	constructor(
		readonly traceId: string,
		private readonly handlers: LiveHandlers,
	) {
		this.#open();
	}

	close(): void {
		this.#closed = true;
		clearTimeout(this.#retry);
		clearInterval(this.#keepalive);
		this.#socket?.close(1000, "viewer left the trace");
		this.handlers.connection("closed");
	}

	#open(): void {
		const url = `${location.protocol === "https:" ? "wss:" : "ws:"}//${location.host}/v1/traces/${this.traceId}/live`;
		const token = storedToken();
		let socket: WebSocket;
		try {
			socket = token ? new WebSocket(url, ["bearer", token]) : new WebSocket(url);
		} catch (e) {
			this.handlers.failed(`cannot open the live connection: ${e instanceof Error ? e.message : String(e)}`);
			return;
		}
		this.#socket = socket;
		socket.addEventListener("open", () => {
			this.#backoffMs = 500;
			this.handlers.connection("live");
			clearInterval(this.#keepalive);
			this.#keepalive = setInterval(() => socket.readyState === WebSocket.OPEN && socket.send("ping"), KEEPALIVE_MS);
		});
		socket.addEventListener("message", (event) => {
			if (typeof event.data !== "string" || event.data === "pong") return;
			let frame: LiveFrame;
			try {
				frame = JSON.parse(event.data) as LiveFrame;
			} catch {
				return; // Not one of the protocol's frames; nothing to show.
			}
			this.handlers.frame(frame);
			// The server closes after a redirect; the page follows it with a new socket.
			if (frame.type === "redirect") this.#closed = true;
		});
		socket.addEventListener("close", () => {
			if (this.#socket === socket) clearInterval(this.#keepalive);
			if (this.#closed || this.#socket !== socket) return;
			this.handlers.connection("reconnecting");
			this.#retry = setTimeout(() => this.#open(), this.#backoffMs);
			this.#backoffMs = Math.min(this.#backoffMs * 2, MAX_BACKOFF_MS);
		});
	}
}
