// Usage: npm run tail -- <traceId> [--url http://127.0.0.1:8787] [--token T] [--follow]
// Subscribes to a trace's live WebSocket and prints it as an indented tree that grows as spans
// arrive (service, span name, duration, status). Exits once the trace is finalized, unless
// --follow keeps it open for late spans. The token may also come from TRACE_ASSEMBLER_TOKEN.
import { hasFlag, option, positional } from "./lib/args.ts";

interface Span {
	spanId: string;
	parentSpanId?: string;
	name?: string;
	startTimeUnixNano?: string;
	endTimeUnixNano?: string;
	status?: { code?: number; message?: string };
	attributes?: { key: string; value?: { stringValue?: string } }[];
}

interface Node {
	span: Span;
	service: string;
	origin?: string;
}

const follow = hasFlag("follow");
const base = option("url", "http://127.0.0.1:8787");
const token = option("token") ?? process.env.TRACE_ASSEMBLER_TOKEN;
let traceId = positional(["url", "token"])[0];
if (!traceId || !/^[0-9a-fA-F]{32}$/.test(traceId)) {
	console.error("usage: npm run tail -- <traceId (32 hex digits)> [--url URL] [--token TOKEN] [--follow]");
	process.exit(2);
}

const nodes = new Map<string, Node>();
const merged: string[] = [];
let status = "connecting";
const tty = process.stdout.isTTY;

/** The trace as indented lines: service, span name, duration, status, and where merged spans came from. */
function treeLines(): string[] {
	const children = new Map<string, Node[]>();
	const roots: Node[] = [];
	for (const node of nodes.values()) {
		const parent = node.span.parentSpanId;
		if (parent && nodes.has(parent)) {
			if (!children.has(parent)) children.set(parent, []);
			children.get(parent)!.push(node);
		} else roots.push(node);
	}
	const byStart = (a: Node, b: Node) => Number(BigInt(a.span.startTimeUnixNano ?? "0") - BigInt(b.span.startTimeUnixNano ?? "0"));
	const lines: string[] = [`trace ${traceId}  [${status}]  ${nodes.size} spans${merged.length ? `  merged: ${merged.join(", ")}` : ""}`];
	const walk = (node: Node, depth: number) => {
		const { span } = node;
		const ms = span.endTimeUnixNano && span.startTimeUnixNano ? Number(BigInt(span.endTimeUnixNano) - BigInt(span.startTimeUnixNano)) / 1e6 : 0;
		const code = span.status?.code === 2 ? " ERROR" + (span.status.message ? ` (${span.status.message})` : "") : span.status?.code === 1 ? " ok" : "";
		const from = node.origin ? `  <- merged from ${node.origin}` : "";
		lines.push(`${"  ".repeat(depth)}${depth ? "└ " : ""}${node.service}: ${span.name ?? "(unnamed)"}  ${ms.toFixed(1)} ms${code}${from}`);
		for (const child of (children.get(span.spanId) ?? []).sort(byStart)) walk(child, depth + 1);
	};
	for (const root of roots.sort(byStart)) walk(root, 0);
	return lines;
}

/** On a terminal the tree is redrawn in place; piped output gets one line per event instead. */
function render(): void {
	if (tty) process.stdout.write("\x1b[2J\x1b[H" + treeLines().join("\n") + "\n");
}

function addSpans(resourceSpans: { resource?: Span; scopeSpans?: { spans?: Span[] }[] }[]): void {
	for (const rs of resourceSpans) {
		const service = rs.resource?.attributes?.find((a) => a.key === "service.name")?.value?.stringValue ?? "?";
		for (const ss of rs.scopeSpans ?? []) {
			for (const span of ss.spans ?? []) {
				const origin = span.attributes?.find((a) => a.key === "assembler.original_trace_id")?.value?.stringValue;
				nodes.set(span.spanId, { span, service, origin });
				if (!tty) console.log(`+ ${service}: ${span.name ?? "(unnamed)"}${origin ? ` (merged from ${origin})` : ""}`);
			}
		}
	}
}

function connect(id: string): void {
	const url = `${base.replace(/^http/, "ws")}/v1/traces/${id}/live`;
	// Browsers and Node's WebSocket cannot set Authorization: the token goes in the subprotocol.
	const socket = token ? new WebSocket(url, ["bearer", token]) : new WebSocket(url);
	socket.addEventListener("message", (event) => {
		const frame = JSON.parse(String(event.data));
		switch (frame.type) {
			case "snapshot":
				status = frame.status;
				addSpans(frame.resourceSpans);
				break;
			case "spans":
				status = "partial";
				addSpans(frame.resourceSpans);
				break;
			case "reopened":
				status = "reopened";
				break;
			case "merged":
				merged.push(`${frame.traceId.slice(0, 8)}… (${frame.rule})`);
				break;
			case "finalized":
				status = `complete, ${frame.spanCount} spans in R2 at ${frame.key}`;
				render();
				if (!tty) console.log(`finalized: ${frame.spanCount} spans at ${frame.key}\n${treeLines().join("\n")}`);
				if (!follow) {
					socket.close();
					process.exit(0);
				}
				break;
			case "redirect":
				console.log(`trace ${id} was merged into ${frame.traceId}; following it`);
				traceId = frame.traceId;
				nodes.clear();
				connect(frame.traceId);
				return;
		}
		render();
	});
	socket.addEventListener("error", () => {
		console.error(`cannot subscribe at ${url}: is the assembler running (npm start), and is the token right?`);
		process.exit(1);
	});
}

connect(traceId);
