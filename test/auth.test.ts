import { describe, expect, it } from "vitest";
import { authenticate, parseAuthTokens } from "../src/auth";
import { loadConfig } from "../src/config";
import { HttpError } from "../src/http/errors";
import { getTrace, jsonRequest, postTraces, randomHex } from "./helpers";

describe("authentication", () => {
	it("answers 401 without a token or with a wrong one, saying how to authenticate", async () => {
		let res = await postTraces(jsonRequest([{ traceId: randomHex(16), spanId: randomHex(8) }]), { headers: { authorization: "" } });
		expect(res.status).toBe(401);
		expect(((await res.json()) as any).message).toMatch(/Authorization: Bearer/);
		res = await getTrace(randomHex(16), { authorization: "Bearer nope" });
		expect(res.status).toBe(401);
		expect(((await res.json()) as any).message).toMatch(/not one of AUTH_TOKENS/);
	});

	it("answers 401 before looking at the body", async () => {
		const res = await postTraces("garbage", { contentType: "text/plain", headers: { authorization: "Bearer nope" } });
		expect(res.status).toBe(401);
	});

	it("is closed by default: no tokens and no ALLOW_ANONYMOUS means 401 with configuration advice", async () => {
		const request = new Request("http://x/v1/traces");
		const config = loadConfig({});
		await expect(authenticate(request, config, "ingest")).rejects.toThrow(/wrangler secret put AUTH_TOKENS.*ALLOW_ANONYMOUS/);
		const open = loadConfig({ ALLOW_ANONYMOUS: "true" });
		await expect(authenticate(request, open, "read")).resolves.toEqual({ tenant: "", scope: "all" });
	});

	it("parses token lists and rejects malformed entries without echoing tokens", () => {
		expect(parseAuthTokens(" a , b=acme , c=acme:read ")).toEqual([
			{ token: "a", principal: { tenant: "", scope: "all" } },
			{ token: "b", principal: { tenant: "acme", scope: "all" } },
			{ token: "c", principal: { tenant: "acme", scope: "read" } },
		]);
		expect(parseAuthTokens('[{"token":"t","tenant":"x","scope":"ingest"}]')).toEqual([{ token: "t", principal: { tenant: "x", scope: "ingest" } }]);
		expect(() => parseAuthTokens("secret=bad tenant!")).toThrow(/entry 1: tenant/);
		try {
			parseAuthTokens("supersecret=acme:admin");
		} catch (e) {
			expect(String(e)).not.toContain("supersecret");
		}
	});

	it("rejects invalid configuration with a message naming the variable", () => {
		expect(() => loadConfig({ QUIET_PERIOD_MS: "soon" })).toThrow(/QUIET_PERIOD_MS must be a whole number/);
		expect(() => loadConfig({ ALLOW_ANONYMOUS: "yes" })).toThrow(/ALLOW_ANONYMOUS must be "true", "read" or "false"/);
		expect(new HttpError(401, "x").status).toBe(401);
	});
});
