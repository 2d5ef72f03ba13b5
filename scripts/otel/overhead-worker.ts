// The Worker scripts/otel-overhead.ts times: GET /?mode=M&n=N runs N spans (start active, one
// attribute, end) through one of the modes below, in one request.
import { tracing } from "cloudflare:workers";
import { ProxyTracerProvider, SpanKind, trace, type Tracer } from "@opentelemetry/api";
import { registerRuntimeTracing } from "../../src/otel";
import { RuntimeTracer } from "../../src/otel/tracer";

registerRuntimeTracing();
const tracers: Record<string, Tracer> = {
	// @opentelemetry/api with nothing registered: what instrumented code costs with no tracer at all.
	"api-noop": new ProxyTracerProvider().getTracer("overhead"),
	// The bridge where the runtime has no tracing API.
	"bridge-no-runtime": new RuntimeTracer(undefined),
	bridge: trace.getTracer("overhead"),
};

export default {
	async fetch(request: Request): Promise<Response> {
		const url = new URL(request.url);
		const mode = url.searchParams.get("mode") ?? "none";
		const n = Number(url.searchParams.get("n") ?? "1000");
		let sink = 0;
		if (mode === "none") {
			for (let i = 0; i < n; i++) sink += i;
		} else if (mode === "runtime") {
			// The runtime's own API, called directly: the floor the bridge is compared with.
			for (let i = 0; i < n; i++) tracing.startActiveSpan("s", (span) => {
				span.setAttribute("i", i);
				span.end();
			});
		} else if (mode === "bridge-extras") {
			const tracer = tracers.bridge!;
			for (let i = 0; i < n; i++) tracer.startActiveSpan("s", { kind: SpanKind.CLIENT }, (span) => {
				span.setAttribute("i", i);
				span.setAttribute("tags", ["a", "b"]);
				span.addEvent("e");
				span.end();
			});
		} else {
			const tracer = tracers[mode];
			if (!tracer) return new Response(`unknown mode ${mode}`, { status: 400 });
			for (let i = 0; i < n; i++) tracer.startActiveSpan("s", (span) => {
				span.setAttribute("i", i);
				span.end();
			});
		}
		return new Response(String(sink));
	},
};
