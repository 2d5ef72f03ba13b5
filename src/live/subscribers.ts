// Live subscribers of one trace, held with the WebSocket Hibernation API: the runtime keeps the
// sockets while the object sleeps or is evicted, so an idle subscriber costs nothing and no
// per-socket state lives in fields (ctx.getWebSockets() finds them again after a wake-up).

/** Sockets of the live protocol carry this tag. */
const TAG = "live";
/**
 * Subscribers one trace accepts at once: every span is sent to each of them from the object's one
 * thread, so a trace watched by thousands of sockets (one token can open them) would slow its
 * ingest for everyone. More than enough for people watching a trace.
 */
export const MAX_LIVE_SUBSCRIBERS = 100;

export class Subscribers {
	readonly #ctx: DurableObjectState;

	constructor(ctx: DurableObjectState) {
		this.#ctx = ctx;
		// Answered by the runtime without waking the object (hibernation-friendly keep-alive).
		ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair("ping", "pong"));
	}

	get count(): number {
		return this.#ctx.getWebSockets(TAG).length;
	}

	get any(): boolean {
		return this.#ctx.getWebSockets(TAG).length > 0;
	}

	/** Accepts a new subscriber and sends it `frames` before anything else can be broadcast. */
	accept(socket: WebSocket, frames: readonly string[]): void {
		this.#ctx.acceptWebSocket(socket, [TAG]);
		for (const frame of frames) socket.send(frame);
	}

	/** Sends to every subscriber. A socket that is gone is an expected event, never an ingest error. */
	broadcast(...frames: string[]): void {
		for (const socket of this.#ctx.getWebSockets(TAG)) {
			try {
				for (const frame of frames) socket.send(frame);
			} catch {
				// Closed or closing under us: the close handler cleans it up; ingest goes on.
			}
		}
	}

	/** Closes every subscriber normally (after a redirect). */
	closeAll(reason: string): void {
		for (const socket of this.#ctx.getWebSockets(TAG)) {
			try {
				socket.close(1000, reason);
			} catch {
				// Already closed: nothing left to tell it.
			}
		}
	}
}
