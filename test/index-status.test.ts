// GET /api/status/index: the caller's tenant's windows only, read scope, bad ranges a 400.
import { describe, expect, it } from "vitest";
import { exports } from "cloudflare:workers";
import { BASE, postTraces, protobufRequest, randomHex } from "./helpers";

const MS = 1_000_000n;

async function status(token: string | undefined, query = ""): Promise<{ status: number; body: { windows?: { start: number; shards: number; entries: number; bytes: number }[]; unindexed?: number; message?: string } }> {
	const headers: Record<string, string> = token ? { authorization: `Bearer ${token}` } : {};
	const response = await exports.default.fetch(new Request(`${BASE}/api/status/index${query}`, { headers }));
	return { status: response.status, body: (await response.json()) as never };
}

describe("GET /api/status/index", () => {
	it("shows the caller's tenant's windows and nobody else's", async () => {
		const traceId = randomHex(16);
		const start = BigInt(Date.now() - 100) * MS;
		const sent = await postTraces(protobufRequest([{ traceId, spanId: randomHex(8), name: "op", service: "status-svc", startNs: start, endNs: start + MS }]), { headers: { authorization: "Bearer globex-token" } });
		expect(sent.status).toBe(200);
		await sent.arrayBuffer();
		let globex = await status("globex-token");
		for (let i = 0; i < 100 && (globex.body.windows ?? []).reduce((n, w) => n + w.entries, 0) < 1; i++) {
			await new Promise((r) => setTimeout(r, 50));
			globex = await status("globex-token");
		}
		expect(globex.status).toBe(200);
		expect(globex.body.windows).toHaveLength(1);
		expect(globex.body.windows![0]).toMatchObject({ start: Math.floor(Date.now() / 3_600_000) * 3_600_000, shards: 1, entries: 1 });
		expect(globex.body.windows![0]!.bytes).toBeGreaterThan(0);
		expect(globex.body.unindexed).toBe(0);
		expect((await status("acme-token")).body).toEqual({ windows: [], unindexed: 0, unindexedTraceIds: [] });
		expect((await status("reader-token")).status).toBe(200);
		expect((await status("writer-token")).status).toBe(403);
		expect((await status(undefined)).status).toBe(401);
		expect((await status("globex-token", "?start=20&end=10")).status).toBe(400);
		expect((await status("globex-token", "?start=abc")).status).toBe(400);
	});
});
