// A minimal Chrome DevTools protocol client for the V8 inspector `wrangler dev` exposes: enough to
// take a CPU profile of the Worker and its objects while the bench drives them.
import WebSocket from "ws";

export interface Inspector {
	call<T = unknown>(method: string, params?: Record<string, unknown>): Promise<T>;
	close(): void;
}

export async function connectInspector(url: string): Promise<Inspector> {
	// wrangler's inspector proxy refuses connections without a localhost Origin header.
	const socket = new WebSocket(url, { headers: { Origin: "http://localhost" } });
	const waiting = new Map<number, { resolve: (value: unknown) => void; reject: (error: Error) => void }>();
	let nextId = 0;
	socket.on("message", (data) => {
		const message = JSON.parse(String(data)) as { id?: number; result?: unknown; error?: { message: string } };
		const waiter = message.id === undefined ? undefined : waiting.get(message.id);
		if (!waiter) return;
		waiting.delete(message.id!);
		if (message.error) waiter.reject(new Error(message.error.message));
		else waiter.resolve(message.result);
	});
	await new Promise<void>((resolve, reject) => {
		socket.once("open", () => resolve());
		socket.once("error", reject);
	});
	return {
		call: <T>(method: string, params: Record<string, unknown> = {}) =>
			new Promise<T>((resolve, reject) => {
				const id = ++nextId;
				waiting.set(id, { resolve: resolve as (value: unknown) => void, reject });
				socket.send(JSON.stringify({ id, method, params }));
			}),
		close: () => socket.close(),
	};
}

interface ProfileNode {
	id: number;
	callFrame: { functionName: string; url: string; lineNumber: number };
}

/** Runs `work` under the sampling profiler; returns the functions with the most self time. */
export async function profileSelfTime(inspector: Inspector, work: () => Promise<unknown>, top = 12): Promise<{ share: number; name: string }[]> {
	await inspector.call("Profiler.enable");
	await inspector.call("Profiler.setSamplingInterval", { interval: 200 });
	await inspector.call("Profiler.start");
	await work();
	const { profile } = await inspector.call<{ profile: { nodes: ProfileNode[]; samples: number[] } }>("Profiler.stop");
	const nodes = new Map(profile.nodes.map((node) => [node.id, node]));
	const self = new Map<string, number>();
	for (const sample of profile.samples) {
		const frame = nodes.get(sample)!.callFrame;
		const name = `${frame.functionName || "(anonymous)"} ${frame.url ? `${frame.url.split("/").pop()}:${frame.lineNumber + 1}` : ""}`.trim();
		self.set(name, (self.get(name) ?? 0) + 1);
	}
	return [...self].sort((a, b) => b[1] - a[1]).slice(0, top).map(([name, count]) => ({ share: count / profile.samples.length, name }));
}
