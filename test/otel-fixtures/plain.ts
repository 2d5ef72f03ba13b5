// A Worker with no OpenTelemetry setup at all that calls out with `tracedFetch`: without an OTel
// span, the runtime's own active span is propagated. For test/otel.test.ts.
import { tracing } from "cloudflare:workers";
import { tracedFetch } from "../../src/propagation";

export default {
	async fetch(): Promise<Response> {
		const response = await tracedFetch(globalThis, "http://payments.example/pay", { method: "POST" });
		const paid = (await response.json()) as { traceparent: string | null };
		return Response.json({ runtime: tracing.getActiveSpan()?.spanContext(), traceparent: paid.traceparent });
	},
};
