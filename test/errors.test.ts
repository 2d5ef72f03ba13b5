// Lower layers raise AssemblerError (src/errors.ts); only the HTTP edge maps a kind to a status.
import { describe, expect, it } from "vitest";
import { AssemblerError } from "../src/errors";
import { readBody, requestEncoding } from "../src/ingest/body";
import { splitRequest } from "../src/ingest/split";
import { authenticate } from "../src/auth";
import { loadConfig } from "../src/config";
import { errorResponse } from "../src/http/respond";
import { HttpError } from "../src/http/errors";

async function caught(run: () => unknown): Promise<unknown> {
	try {
		await run();
	} catch (e) {
		return e;
	}
	throw new Error("expected a throw");
}

describe("the base error of lower layers", () => {
	it("ingest, auth and config raise AssemblerError with a kind, never the edge's HttpError", async () => {
		const cases: [unknown, string][] = [
			[await caught(() => requestEncoding(new Request("http://x", { method: "POST", headers: { "content-type": "text/plain" } }))), "unsupported-media"],
			[await caught(() => readBody(new Request("http://x", { method: "POST", body: "x".repeat(2048) }), 1024)), "too-large"],
			[await caught(() => splitRequest(new TextEncoder().encode("{nope"), "json")), "invalid"],
			[await caught(() => authenticate(new Request("http://x"), loadConfig({ AUTH_TOKENS: "t" }), "read")), "unauthenticated"],
			[await caught(() => authenticate(new Request("http://x", { headers: { authorization: "Bearer t" } }), loadConfig({ AUTH_TOKENS: "t=a:ingest" }), "read")), "forbidden"],
			[await caught(() => loadConfig({ QUIET_PERIOD_MS: "soon" })), "misconfigured"],
		];
		for (const [error, kind] of cases) {
			expect(error).toBeInstanceOf(AssemblerError);
			expect(error).not.toBeInstanceOf(HttpError);
			expect((error as AssemblerError).kind).toBe(kind);
		}
	});

	it("the edge maps each kind to its status, in one place", async () => {
		const statuses = { invalid: 400, "too-large": 413, "unsupported-media": 415, unauthenticated: 401, forbidden: 403, "not-found": 404, conflict: 409, overloaded: 429, unavailable: 503, misconfigured: 500 } as const;
		for (const [kind, status] of Object.entries(statuses)) {
			const response = errorResponse(new AssemblerError(kind as keyof typeof statuses, "why", kind === "overloaded" ? 3 : undefined));
			expect(response.status).toBe(status);
			expect(((await response.json()) as { message: string }).message).toMatch(/why$/);
			if (kind === "overloaded") expect(response.headers.get("retry-after")).toBe("3");
		}
	});
});
