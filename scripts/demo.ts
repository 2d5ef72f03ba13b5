// Usage: npm run demo -- [--url http://127.0.0.1:8787] [--token T]
// Posts a checkout request traced across three Workers and a Durable Object (scripts/lib/demo-trace.ts)
// to a running assembler as OTLP/JSON, in four pieces and out of order, each callee under its own
// trace id like Cloudflare exports them. Prints the caller's trace id, under which the assembler
// merges all four, and how to read and watch it. The token may also come from TRACE_ASSEMBLER_TOKEN.
import { option } from "./lib/args.ts";
import { demoTrace } from "./lib/demo-trace.ts";

const base = option("url", "http://127.0.0.1:8787").replace(/\/$/, "");
const token = option("token") ?? process.env.TRACE_ASSEMBLER_TOKEN;
const auth: Record<string, string> = token ? { authorization: `Bearer ${token}` } : {};

const demo = demoTrace();
for (const [i, request] of demo.requests.entries()) {
	let response: Response;
	try {
		response = await fetch(`${base}/v1/traces`, { method: "POST", headers: { "content-type": "application/json", ...auth }, body: JSON.stringify(request) });
	} catch (e) {
		console.error(`cannot reach ${base}: ${(e as Error).message}\nstart the assembler first: npm start`);
		process.exit(1);
	}
	const text = await response.text();
	if (!response.ok) {
		console.error(`export ${i + 1} of ${demo.requests.length} failed: ${response.status} ${text}`);
		if (response.status === 401) console.error("pass --token <token> (or set TRACE_ASSEMBLER_TOKEN) for an instance with AUTH_TOKENS");
		process.exit(1);
	}
}

const read = await fetch(`${base}/v1/traces/${demo.traceId}`, { headers: auth });
const stored = read.ok ? ((await read.json()) as { resourceSpans: { scopeSpans: { spans: unknown[] }[] }[] }) : { resourceSpans: [] };
const count = stored.resourceSpans.flatMap((rs) => rs.scopeSpans.flatMap((ss) => ss.spans)).length;
const header = token ? ` -H "authorization: Bearer ${token}"` : "";
const tokenFlag = token && !process.env.TRACE_ASSEMBLER_TOKEN ? ` --token ${token}` : "";
const urlFlag = base === "http://127.0.0.1:8787" ? "" : ` --url ${base}`;

console.log(`posted ${demo.spanCount} spans from 4 Workers (storefront → cart → CartObject, storefront → pricing) as ${demo.requests.length} out-of-order exports
trace id:      ${demo.traceId}
merged traces: ${demo.childTraceIds.join(", ")}
stored now:    ${count} of ${demo.spanCount} spans under ${demo.traceId} (${read.headers.get("x-trace-status") ?? read.status}; merges finish within a moment)

watch it:  npm run tail -- ${demo.traceId}${urlFlag}${tokenFlag}
read it:   curl -s${header} ${base}/v1/traces/${demo.traceId}
a callee:  curl -si${header} ${base}/v1/traces/${demo.childTraceIds[0]}   # 308 to the merged trace`);
