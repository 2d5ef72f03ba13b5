// A large nested trace for the viewer's test and benchmark: `spans` spans across a few services,
// each span a child of a recent earlier one (so the tree is both deep and wide), some errors,
// posted as OTLP/JSON export requests of up to 500 spans.
import { exportRequest, type DemoSpan, type DemoWorker } from "./demo-trace.ts";

const SERVICES = ["gateway", "orders", "payments", "inventory", "search", "email"];
const BATCH = 500;
const MAX_DEPTH = 12;

const hex = (bytes: number) => Array.from(crypto.getRandomValues(new Uint8Array(bytes)), (b) => b.toString(16).padStart(2, "0")).join("");

export interface BigTrace {
	traceId: string;
	requests: Record<string, unknown>[];
	/** Span id to nesting depth (0 for the root). */
	depths: Map<string, number>;
	/** Span ids in the order the waterfall lists them (depth first, children by start time). */
	order: string[];
}

export function bigTrace(spans: number): BigTrace {
	const traceId = hex(16);
	const start = Date.now() - 60_000;
	type Node = DemoSpan & { service: string; depth: number; parent?: Node; children: Node[] };
	const all: Node[] = [];
	for (let i = 0; i < spans; i++) {
		// A parent among the last few spans that are not too deep: long chains and fan-out both.
		let parent = i === 0 ? undefined : all[Math.max(0, i - 1 - Math.floor(Math.random() * 8))]!;
		while (parent && parent.depth >= MAX_DEPTH) parent = parent.parent;
		const startMs = parent ? parent.startMs + 0.01 * (i % 50) : start;
		const span: Node = {
			traceId,
			spanId: hex(8),
			parentSpanId: parent?.spanId,
			name: `${parent ? "call" : "request"} ${i}`,
			kind: parent ? 1 : 2,
			startMs,
			endMs: startMs + 1 + (i % 97) / 10,
			attributes: { "span.index": i },
			...(i % 250 === 7 ? { error: "simulated failure" } : {}),
			service: SERVICES[Math.floor(i / 40) % SERVICES.length]!,
			depth: parent ? parent.depth + 1 : 0,
			parent,
			children: [],
		};
		parent?.children.push(span);
		all.push(span);
	}
	const requests: Record<string, unknown>[] = [];
	for (let i = 0; i < all.length; i += BATCH) {
		const workers = new Map<string, DemoSpan[]>();
		for (const span of all.slice(i, i + BATCH)) {
			const list = workers.get(span.service) ?? [];
			workers.set(span.service, list);
			const { service: _service, depth: _depth, parent: _parent, children: _children, ...plain } = span;
			list.push(plain);
		}
		requests.push(exportRequest([...workers].map(([script, list]): DemoWorker => ({ script, spans: list }))));
	}
	const order: string[] = [];
	const walk = (span: Node) => {
		order.push(span.spanId);
		for (const child of [...span.children].sort((a, b) => a.startMs - b.startMs || a.endMs - b.endMs)) walk(child);
	};
	walk(all[0]!);
	return { traceId, requests, depths: new Map(all.map((s) => [s.spanId, s.depth])), order };
}

/** Posts every request of `trace` to the assembler at `url`. */
export async function postBigTrace(url: string, trace: BigTrace, token?: string): Promise<void> {
	for (const request of trace.requests) {
		const response = await fetch(`${url}/v1/traces`, {
			method: "POST",
			headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) },
			body: JSON.stringify(request),
		});
		if (!response.ok) throw new Error(`export answered ${response.status}: ${await response.text()}`);
	}
}
