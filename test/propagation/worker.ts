// The fixture Worker: the assembler itself (default export and TraceAssembler), a `Callee`
// entrypoint that the `CALLEE` service binding reaches, and the `OrdersObject` Durable Object.
// Both callees behave like a Worker without context propagation: their fetch handler span starts a
// new trace, and the propagation helper records the caller's traceparent on it.
import "./als-context";
import { DurableObject, WorkerEntrypoint } from "cloudflare:workers";
import { SpanKind, trace } from "@opentelemetry/api";
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base";
import assembler from "../../src/index";
import { recordIncomingTraceparent } from "../../src/propagation";

export { TraceAssembler, SearchPartition, IndexDirectory } from "../../src/index";
export default assembler;

/** A finished span, as a callee hands it back to the test for export. */
export interface CalleeSpan {
	traceId: string;
	spanId: string;
	name: string;
	service: string;
	attributes: Record<string, string | string[]>;
}

async function handle(service: string, request: Request): Promise<Response> {
	const memory = new InMemorySpanExporter();
	const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(memory)] });
	// A fresh root span, as on a runtime that does not continue the caller's trace.
	provider.getTracer(service).startActiveSpan("fetch", { kind: SpanKind.SERVER, root: true }, (span) => {
		recordIncomingTraceparent(request);
		span.end();
	});
	const [finished] = memory.getFinishedSpans();
	const recorded: CalleeSpan = {
		traceId: finished!.spanContext().traceId,
		spanId: finished!.spanContext().spanId,
		name: finished!.name,
		service,
		attributes: finished!.attributes as CalleeSpan["attributes"],
	};
	return Response.json({ span: recorded, activeAfter: trace.getActiveSpan() !== undefined });
}

export class Callee extends WorkerEntrypoint {
	override fetch(request: Request): Promise<Response> {
		return handle("cart", request);
	}
}

export class OrdersObject extends DurableObject {
	override fetch(request: Request): Promise<Response> {
		return handle("orders", request);
	}
}
