// MAX_SUBREQUESTS: an export request with more traces than one invocation may call still lands
// whole, through ingest relays, and no invocation (router or relay) makes more calls than that.
import { expect, it } from "vitest";
import { env, exports } from "cloudflare:workers";
import { runInDurableObject } from "cloudflare:test";
import { handleExport } from "../src/http/export-route";
import { enableUsageCounting, resetUsage } from "../src/metering/usage";
import { planDelivery } from "../src/ingest/fan-out";
import { AUTH, BASE, protobufRequest, randomHex, stubFor } from "./helpers";

async function usage(): Promise<Record<string, number>> {
	const response = await exports.default.fetch(new Request(`${BASE}/debug/usage`, { headers: AUTH }));
	expect(response.status).toBe(200);
	return response.json();
}

/** Span ids the trace's object holds in storage (its part rows), not what a read assembles. */
async function storedSpanCount(traceId: string): Promise<number> {
	return runInDurableObject(stubFor(traceId), (_instance, state) => {
		const tables = state.storage.sql.exec("SELECT name FROM sqlite_master WHERE name = 'parts'").toArray();
		if (tables.length === 0) return 0;
		return state.storage.sql.exec("SELECT count(*) AS parts FROM parts WHERE spans IS NOT NULL").one().parts as number;
	});
}

it("stores every trace of a 300-trace request with MAX_SUBREQUESTS=20, no invocation making more than 20 calls", async () => {
	enableUsageCounting({ COUNT_USAGE: "true" });
	resetUsage();
	const traces = Array.from({ length: 300 }, () => randomHex(16));
	const spans = traces.flatMap((traceId) => [{ traceId, spanId: randomHex(8) }, { traceId, spanId: randomHex(8) }]);
	const request = new Request(`${BASE}/v1/traces`, { method: "POST", headers: { "content-type": "application/x-protobuf", ...AUTH }, body: protobufRequest(spans) });
	const response = await handleExport(request, { ...env, MAX_SUBREQUESTS: "20" });
	expect(response.status).toBe(200);
	const counted = await usage();
	expect(counted.maxSubrequestsPerInvocation).toBeGreaterThan(0);
	expect(counted.maxSubrequestsPerInvocation).toBeLessThanOrEqual(20);
	// 300 calls at 20 per invocation: the router keeps 5 and hands 295 to 15 relays.
	expect(counted.ingestRelays).toBe(15);
	// Every trace's part is in its own object's storage: one part row each.
	for (const traceId of traces) expect(await storedSpanCount(traceId)).toBe(1);
	// 300 objects on a shared 2-core machine: more than the default 5 s.
}, 60_000);

it("plans within the budget at every size, relaying again when the relays' share is too large", () => {
	for (const limit of [2, 3, 20, 50]) {
		for (const count of [1, limit, limit + 1, 3 * limit, limit * limit + 7]) {
			const parts = Array.from({ length: count }, (_, i) => ({ id: i, cost: i % 7 === 3 ? 2 : 1 }));
			const { local, groups } = planDelivery(parts, limit);
			const localCost = local.reduce((sum, part) => sum + part.cost, 0);
			expect(localCost + groups.length).toBeLessThanOrEqual(limit);
			// Each part once, and each relay gets less than the whole (so relaying ends).
			expect([...local, ...groups.flat()].map((part) => part.id).sort((a, b) => a - b)).toEqual(parts.map((part) => part.id));
			for (const group of groups) expect(group.length).toBeLessThan(count);
		}
	}
});

it("bounds the tail consumer's calls too: retries stop at the invocation's budget", async () => {
	const { joinCaller } = await import("../src/tail/deliver");
	const { SubrequestBudget } = await import("../src/ingest/subrequests");
	const { TraceAssembler } = await import("../src/assembler/trace-object");
	const stitch = TraceAssembler.prototype.stitch;
	let calls = 0;
	TraceAssembler.prototype.stitch = async function () {
		calls++;
		throw new Error("injected object failure");
	};
	try {
		const budget = new SubrequestBudget(2);
		await joinCaller(env, { tenant: "", traceId: randomHex(16) }, { parentTraceId: randomHex(16), parentSpanId: randomHex(8), rule: "traceparent" }, budget);
		// Three attempts are allowed, two calls fit: the third is not made.
		expect(calls).toBe(2);
		expect(budget.used).toBe(2);
	} finally {
		TraceAssembler.prototype.stitch = stitch;
	}
});
