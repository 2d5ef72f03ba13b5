// The Worker's side of the web viewer: GET / sends browsers to /ui/ and keeps the JSON description
// for API clients; HEAD /v1/traces/{id} answers a GET's status and headers without the body.
import { exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { AUTH, BASE, finalizeNow, jsonRequest, postTraces, randomHex } from "./helpers";

const get = (path: string, headers: Record<string, string> = {}) => exports.default.fetch(new Request(`${BASE}${path}`, { headers, redirect: "manual" }));

describe("GET /", () => {
	it("redirects a browser's navigation (Accept: text/html first) to the viewer", async () => {
		const res = await get("/", { accept: "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8" });
		expect(res.status).toBe(302);
		expect(res.headers.get("location")).toBe("/ui/");
		expect(res.headers.get("vary")).toMatch(/accept/);
	});

	it("keeps the JSON service description for API clients, curl and a JSON-preferring Accept", async () => {
		for (const accept of [undefined, "*/*", "application/json", "application/json, text/html;q=0.5"]) {
			const res = await get("/", accept ? { accept } : {});
			expect(res.status, accept).toBe(200);
			expect(await res.json()).toMatchObject({ service: "workers-trace-assembler", viewer: "GET /ui/" });
		}
	});

	it("sends /ui to /ui/", async () => {
		const res = await get("/ui");
		expect(res.status).toBe(301);
		expect(res.headers.get("location")).toBe("/ui/");
	});

	it("answers HEAD / and HEAD /ui as GET does, not with a 404", async () => {
		const head = (path: string, headers: Record<string, string> = {}) => exports.default.fetch(new Request(`${BASE}${path}`, { method: "HEAD", headers, redirect: "manual" }));
		const api = await head("/");
		expect(api.status).toBe(200);
		expect(api.headers.get("content-type")).toMatch(/json/);
		await api.arrayBuffer();
		const browser = await head("/", { accept: "text/html" });
		expect(browser.status).toBe(302);
		expect(browser.headers.get("location")).toBe("/ui/");
		expect((await head("/ui")).status).toBe(301);
	});
});

describe("HEAD /v1/traces/{traceId}", () => {
	it("answers the status headers of an open and of a finalized trace, with no body", async () => {
		const traceId = randomHex(16);
		await postTraces(jsonRequest([{ traceId, spanId: randomHex(8), name: "root" }]));
		const head = (id: string) => exports.default.fetch(new Request(`${BASE}/v1/traces/${id}`, { method: "HEAD", headers: AUTH }));
		let res = await head(traceId);
		expect(res.status).toBe(200);
		expect(res.headers.get("x-trace-status")).toBe("partial");
		expect(await res.text()).toBe("");
		await finalizeNow(traceId);
		res = await head(traceId);
		expect(res.status).toBe(200);
		expect(res.headers.get("x-trace-status")).toBe("complete");
		expect(await res.text()).toBe("");
		expect((await head(randomHex(16))).status).toBe(404);
		expect((await exports.default.fetch(new Request(`${BASE}/v1/traces/${traceId}`, { method: "HEAD" }))).status).toBe(401);
		const put = await exports.default.fetch(new Request(`${BASE}/v1/traces/${traceId}`, { method: "PUT", headers: AUTH }));
		expect(put.status).toBe(405);
		expect(put.headers.get("allow")).toBe("GET, HEAD");
	});
});
