// Issue 18, security #7 and #8: anonymous access, base64 tokens, where the WebSocket-subprotocol
// token counts, who may read /debug/usage, and the live-subscriber cap per trace.
import { describe, expect, it } from "vitest";
import { exports } from "cloudflare:workers";
import { authenticate, parseAuthTokens } from "../src/auth";
import { loadConfig } from "../src/config";
import { MAX_LIVE_SUBSCRIBERS } from "../src/live/subscribers";
import { handleUsage } from "../src/http/usage-route";
import { handleRead } from "../src/http/read-route";
import { enableUsageCounting } from "../src/metering/usage";
import { AUTH, BASE, getTrace, jsonRequest, postTraces, randomHex } from "./helpers";

describe("ALLOW_ANONYMOUS", () => {
	it("refuses ALLOW_ANONYMOUS=true beside AUTH_TOKENS with a configuration error naming both", () => {
		// Bug: token-less callers got full read and write on the default tenant of a protected deployment.
		expect(() => loadConfig({ ALLOW_ANONYMOUS: "true", AUTH_TOKENS: "secret" })).toThrow(/ALLOW_ANONYMOUS=true cannot be combined with AUTH_TOKENS.*ALLOW_ANONYMOUS=read/);
		expect(loadConfig({ ALLOW_ANONYMOUS: "true" }).allowAnonymous).toBe("all");
		expect(() => loadConfig({ ALLOW_ANONYMOUS: "yes" })).toThrow(/ALLOW_ANONYMOUS must be "true", "read" or "false"/);
	});

	it("ALLOW_ANONYMOUS=read lets token-less callers read the default tenant, never write", async () => {
		const config = loadConfig({ ALLOW_ANONYMOUS: "read", AUTH_TOKENS: "secret=acme" });
		await expect(authenticate(new Request("http://x"), config, "read")).resolves.toEqual({ tenant: "", scope: "read" });
		await expect(authenticate(new Request("http://x"), config, "ingest")).rejects.toThrow(/ALLOW_ANONYMOUS=read lets token-less callers read only/);
		// A wrong token is still a wrong token.
		await expect(authenticate(new Request("http://x", { headers: { authorization: "Bearer nope" } }), config, "read")).rejects.toThrow(/not one of AUTH_TOKENS/);
	});

	it("a deployment with the bad combination answers 500 naming it (no request gets through)", async () => {
		const misconfigured = { ALLOW_ANONYMOUS: "true", AUTH_TOKENS: "secret" } as never;
		const res = await handleRead(new Request(`${BASE}/v1/traces/${randomHex(16)}`), misconfigured, randomHex(16));
		expect(res.status).toBe(500);
		expect(((await res.json()) as { message: string }).message).toMatch(/^server misconfigured: ALLOW_ANONYMOUS=true cannot be combined with AUTH_TOKENS/);
	});
});

describe("AUTH_TOKENS", () => {
	it("keeps base64 '=' padding in tokens (an entry splits at the last '=' before a tenant)", () => {
		// Bug: `dG9rZW4=` split at its first '=' into token `dG9rZW4` and an invalid tenant.
		expect(parseAuthTokens("dG9rZW4=, YWJjZA==, c2VjcmV0==acme, c2Vj=acme:read")).toEqual([
			{ token: "dG9rZW4=", principal: { tenant: "", scope: "all" } },
			{ token: "YWJjZA==", principal: { tenant: "", scope: "all" } },
			{ token: "c2VjcmV0=", principal: { tenant: "acme", scope: "all" } },
			{ token: "c2Vj", principal: { tenant: "acme", scope: "read" } },
		]);
	});
});

describe("the WebSocket-subprotocol token", () => {
	it("is accepted on /live only, not on other routes", async () => {
		const traceId = randomHex(16);
		await postTraces(jsonRequest([{ traceId, spanId: randomHex(8) }]));
		const viaProtocol = { authorization: "", "sec-websocket-protocol": "bearer, test-token" };
		// Bug: any route took the token from Sec-WebSocket-Protocol.
		expect((await getTrace(traceId, viaProtocol)).status).toBe(401);
		const live = await exports.default.fetch(new Request(`${BASE}/v1/traces/${traceId}/live`, { headers: { upgrade: "websocket", "sec-websocket-protocol": "bearer, test-token" } }));
		expect(live.status).toBe(101);
		live.webSocket!.accept();
		live.webSocket!.close();
	});
});

describe("/debug/usage", () => {
	it("answers only a default-tenant token with scope all: the totals cover every tenant", async () => {
		const env = { COUNT_USAGE: "true", AUTH_TOKENS: "op-token,acme-token=acme,reader=:read" };
		enableUsageCounting(env);
		const ask = (token: string) => handleUsage(new Request(`${BASE}/debug/usage`, { headers: { authorization: `Bearer ${token}` } }), env as never);
		expect((await ask("op-token")).status).toBe(200);
		// Bug: any read token saw every tenant's totals.
		expect((await ask("acme-token")).status).toBe(403);
		expect((await ask("reader")).status).toBe(403);
	});
});

describe("live subscribers per trace", () => {
	it(`accepts at most ${MAX_LIVE_SUBSCRIBERS} sockets on one trace, then 429 with Retry-After`, { timeout: 60_000 }, async () => {
		const traceId = randomHex(16);
		const open: WebSocket[] = [];
		const connect = () => exports.default.fetch(new Request(`${BASE}/v1/traces/${traceId}/live`, { headers: { upgrade: "websocket", ...AUTH } }));
		for (let i = 0; i < MAX_LIVE_SUBSCRIBERS; i++) {
			const res = await connect();
			expect(res.status).toBe(101);
			res.webSocket!.accept();
			open.push(res.webSocket!);
		}
		// Bug: 200 sockets on one trace with one token were accepted.
		const refused = await connect();
		expect(refused.status).toBe(429);
		expect(refused.headers.get("retry-after")).toBe("30");
		expect(((await refused.json()) as { message: string }).message).toMatch(/live subscribers/);
		for (const socket of open) socket.close();
		// Other traces are not affected.
		const other = await exports.default.fetch(new Request(`${BASE}/v1/traces/${randomHex(16)}/live`, { headers: { upgrade: "websocket", ...AUTH } }));
		expect(other.status).toBe(101);
		other.webSocket!.accept();
		other.webSocket!.close();
	});
});
