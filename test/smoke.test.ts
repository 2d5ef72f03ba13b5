import { describe, expect, it } from "vitest";
import { env } from "cloudflare:workers";
import { finalizeNow, jsonRequest, postTraces, randomHex, readTrace, spanIds, r2KeyOf } from "./helpers";

describe("smoke", () => {
	it("ingests and reads back", async () => {
		const traceId = randomHex(16);
		const res = await postTraces(jsonRequest([{ traceId, spanId: randomHex(8) }]));
		expect(res.status, await res.clone().text()).toBe(200);
		const { status, trace } = await readTrace(traceId);
		expect(status).toBe("partial");
		expect(spanIds(trace)).toHaveLength(1);
		expect(await finalizeNow(traceId)).toBe(true);
		expect(await env.TRACES.head(r2KeyOf(traceId))).not.toBeNull();
	});
});
