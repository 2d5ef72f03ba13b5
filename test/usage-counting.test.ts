// COUNT_USAGE: every R2 operation a read path makes is counted, whichever route makes it (the
// Tempo API's reads were written before counting existed). Counting is turned on in this test's
// isolate, which the Worker and its objects share, as under `wrangler dev`.
import { expect, it } from "vitest";
import { exports } from "cloudflare:workers";
import { enableUsageCounting, usageSnapshot } from "../src/metering/usage";
import { AUTH, BASE, finalizeNow, jsonRequest, postTraces, randomHex } from "./helpers";

async function r2ReadsOf(path: string): Promise<number> {
	const before = usageSnapshot().r2ClassB;
	const response = await exports.default.fetch(new Request(`${BASE}${path}`, { headers: AUTH, redirect: "manual" }));
	expect(response.status).toBe(200);
	await response.arrayBuffer();
	return usageSnapshot().r2ClassB - before;
}

it("counts the R2 read of a finalized trace served by /v1/traces and by the Tempo API alike", async () => {
	enableUsageCounting({ COUNT_USAGE: "true" });
	const traceId = randomHex(16);
	expect((await postTraces(jsonRequest([{ traceId, spanId: randomHex(8), name: "root" }]))).status).toBe(200);
	expect(await finalizeNow(traceId)).toBe(true);
	expect(await r2ReadsOf(`/v1/traces/${traceId}`)).toBe(1);
	expect(await r2ReadsOf(`/api/v2/traces/${traceId}`)).toBe(1);
	expect(await r2ReadsOf(`/api/traces/${traceId}`)).toBe(1);
});
