// A Hono app instrumented by a maintained OpenTelemetry instrumentation package, @hono/otel's
// httpInstrumentationMiddleware, unchanged: through the bridge its server spans are runtime spans,
// and a handler's own spans nest under them. For test/otel.test.ts.
import { httpInstrumentationMiddleware } from "@hono/otel";
import { SpanStatusCode, trace } from "@opentelemetry/api";
import { Hono } from "hono";
import { registerRuntimeTracing } from "../../src/otel";

registerRuntimeTracing();
const tracer = trace.getTracer("catalog");

const app = new Hono();
app.use("*", httpInstrumentationMiddleware({ serviceName: "catalog", captureRequestHeaders: ["x-tenant"] }));
app.get("/items/:id", async (c) => {
	const server = trace.getActiveSpan()!.spanContext();
	const lookup = await tracer.startActiveSpan("catalog.lookup", async (span) => {
		span.setAttribute("catalog.item_id", c.req.param("id"));
		await scheduler.wait(1);
		span.end();
		return span.spanContext();
	});
	return c.json({ server, lookup });
});
app.get("/broken", () => {
	throw new TypeError("catalog offline");
});
app.onError((error, c) => {
	trace.getActiveSpan()?.setStatus({ code: SpanStatusCode.ERROR, message: error.message });
	return c.json({ error: error.message, server: trace.getActiveSpan()?.spanContext() }, 500);
});

export default app;
