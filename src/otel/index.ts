// workers-trace-assembler/otel: code instrumented with @opentelemetry/api, on the Workers runtime's
// own tracing. No SDK, no exporter: spans are the runtime's custom spans, in the runtime's one
// trace, and what its span API lacks reaches the assembler's tail consumer on a diagnostics channel.
//
//   import { registerRuntimeTracing } from "workers-trace-assembler/otel";
//   registerRuntimeTracing();
export { registerRuntimeTracing, type RegisterOptions } from "./register";
export { RuntimeContextManager } from "./context-manager";
export { TraceContextPropagator } from "./propagator";
export { RuntimeTracer, RuntimeTracerProvider } from "./tracer";
export { BridgeSpan } from "./span";
export { OTEL_CHANNEL, OTEL_MESSAGE_VERSION, type SpanExtras } from "./message";
