// An OTLP/HTTP receiver for test/forward/: it records every export request it gets (OTLP/JSON,
// gzip or not) and answers what the test scripted for a trace (POST /script {traceId: [answers]}:
// used in order by requests holding that trace, then 200), and it consumes the forwarding
// dead-letter queue so the test can read the letters.
let requests = [];
let script = {};
let letters = [];

async function bodyText(request) {
	if (request.headers.get("content-encoding") === "gzip") {
		return new Response(request.body.pipeThrough(new DecompressionStream("gzip"))).text();
	}
	return request.text();
}

function spansOf(doc) {
	const spans = [];
	for (const rs of doc.resourceSpans ?? [])
		for (const ss of rs.scopeSpans ?? [])
			for (const span of ss.spans ?? []) {
				const attr = (key) => span.attributes?.find((a) => a.key === key)?.value;
				spans.push({ traceId: span.traceId, spanId: span.spanId, sampleRate: attr("SampleRate")?.intValue, rule: attr("sampling.rule")?.stringValue });
			}
	return spans;
}

export default {
	async fetch(request) {
		const url = new URL(request.url);
		if (url.pathname === "/v1/traces" && request.method === "POST") {
			const doc = JSON.parse(await bodyText(request));
			const spans = spansOf(doc);
			const scripted = script[spans[0]?.traceId];
			const answer = scripted?.shift() ?? { status: 200 };
			requests.push({ answered: answer.status, apiKey: request.headers.get("x-api-key"), contentType: request.headers.get("content-type"), spans });
			const headers = { "content-type": "application/json" };
			if (answer.retryAfter !== undefined) headers["retry-after"] = String(answer.retryAfter);
			if (answer.status === 200 && answer.rejected) return new Response(JSON.stringify({ partialSuccess: { rejectedSpans: String(answer.rejected), errorMessage: "some spans were too old" } }), { headers });
			return new Response(answer.body ?? "{}", { status: answer.status, headers });
		}
		if (url.pathname === "/script") {
			Object.assign(script, await request.json());
			return new Response("ok");
		}
		if (url.pathname === "/reset") {
			requests = [];
			script = {};
			letters = [];
			return new Response("ok");
		}
		if (url.pathname === "/received") return Response.json(requests);
		if (url.pathname === "/dead-letters") return Response.json(letters);
		return new Response("not found", { status: 404 });
	},
	async queue(batch) {
		for (const message of batch.messages) {
			const { payload, ...rest } = message.body;
			letters.push({ ...rest, hasPayload: payload !== undefined });
			message.ack();
		}
	},
};
