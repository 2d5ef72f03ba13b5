import { describe, expect, it } from "vitest";
import { env, exports } from "cloudflare:workers";
import { BASE, finalizeNow, getTrace, jsonRequest, postTraces, randomHex, readTrace, spanIds } from "./helpers";

const as = (token: string) => ({ authorization: `Bearer ${token}` });

describe("tenants", () => {
	it("keeps two tenants' traces with the same id apart: objects, R2 keys, reads", async () => {
		const traceId = randomHex(16);
		const acmeSpan = randomHex(8);
		const globexSpan = randomHex(8);
		expect((await postTraces(jsonRequest([{ traceId, spanId: acmeSpan }]), { headers: as("acme-token") })).status).toBe(200);
		expect((await postTraces(jsonRequest([{ traceId, spanId: globexSpan }]), { headers: as("globex-token") })).status).toBe(200);
		expect(spanIds((await readTrace(traceId, as("acme-token"))).trace)).toEqual([acmeSpan]);
		expect(spanIds((await readTrace(traceId, as("globex-token"))).trace)).toEqual([globexSpan]);
		expect((await getTrace(traceId)).status).toBe(404);
		await finalizeNow(traceId, "acme");
		await finalizeNow(traceId, "globex");
		expect(await env.TRACES.head(`tenants/acme/traces/${traceId}.binpb`)).not.toBeNull();
		expect(await env.TRACES.head(`tenants/globex/traces/${traceId}.binpb`)).not.toBeNull();
		expect(await env.TRACES.head(`traces/${traceId}.binpb`)).toBeNull();
		expect(spanIds((await readTrace(traceId, as("globex-token"))).trace)).toEqual([globexSpan]);
	});

	it("cannot stitch into or subscribe to another tenant's trace", async () => {
		const parent = randomHex(16);
		const parentSpan = randomHex(8);
		await postTraces(jsonRequest([{ traceId: parent, spanId: parentSpan }]), { headers: as("acme-token") });
		const child = randomHex(16);
		// Globex's span claims acme's trace as its caller: it merges into globex's own (empty) trace of that id.
		await postTraces(jsonRequest([{ traceId: child, spanId: randomHex(8), attributes: { traceparent: `00-${parent}-${parentSpan}-01` } }]), { headers: as("globex-token") });
		expect(spanIds((await readTrace(parent, as("acme-token"))).trace)).toEqual([parentSpan]);
		const hint = await exports.default.fetch(
			new Request(`${BASE}/v1/stitch`, { method: "POST", headers: { "content-type": "application/json", ...as("globex-token") }, body: JSON.stringify({ traceId: randomHex(16), traceparent: `00-${parent}-${parentSpan}-01` }) }),
		);
		expect(hint.status).toBe(202);
		expect(spanIds((await readTrace(parent, as("acme-token"))).trace)).toEqual([parentSpan]);
		const live = await exports.default.fetch(new Request(`${BASE}/v1/traces/${parent}/live`, { headers: { upgrade: "websocket", ...as("globex-token") } }));
		const socket = live.webSocket!;
		const first = new Promise<string>((resolve) => socket.addEventListener("message", (e) => resolve(e.data as string)));
		socket.accept();
		const snapshot = JSON.parse(await first);
		expect(snapshot.resourceSpans.flatMap((rs: any) => rs.scopeSpans.flatMap((ss: any) => ss.spans)).map((s: any) => s.spanId)).not.toContain(parentSpan);
		socket.close();
	});

	it("enforces read-only and ingest-only scopes with 403", async () => {
		const traceId = randomHex(16);
		const denied = await postTraces(jsonRequest([{ traceId, spanId: randomHex(8) }]), { headers: as("reader-token") });
		expect(denied.status).toBe(403);
		expect(((await denied.json()) as any).message).toMatch(/only read/);
		expect((await postTraces(jsonRequest([{ traceId, spanId: randomHex(8) }]), { headers: as("writer-token") })).status).toBe(200);
		expect((await getTrace(traceId, as("writer-token"))).status).toBe(403);
		expect((await getTrace(traceId, as("reader-token"))).status).toBe(200);
	});
});

describe("CORS", () => {
	it("is off for unlisted origins and answers listed ones (CORS_ORIGINS)", async () => {
		const preflight = (origin: string) =>
			exports.default.fetch(new Request(`${BASE}/v1/traces`, { method: "OPTIONS", headers: { origin, "access-control-request-method": "POST", "access-control-request-headers": "authorization, content-type" } }));
		const allowed = await preflight("https://viewer.example");
		expect(allowed.status).toBe(204);
		expect(allowed.headers.get("access-control-allow-origin")).toBe("https://viewer.example");
		expect(allowed.headers.get("access-control-allow-headers")).toMatch(/authorization/);
		const other = await preflight("https://evil.example");
		expect(other.headers.get("access-control-allow-origin")).toBeNull();
		const res = await getTrace(randomHex(16), { origin: "https://viewer.example" });
		expect(res.status).toBe(404);
		expect(res.headers.get("access-control-allow-origin")).toBe("https://viewer.example");
		expect(res.headers.get("access-control-expose-headers")).toMatch(/x-trace-status/);
	});
});
