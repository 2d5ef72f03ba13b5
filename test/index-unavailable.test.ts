// A search, tag or tag-values request (and the index status) that cannot reach a partition or the
// tenant's directory answers 503 with Retry-After, never 500 and never a partial answer (issue 17).
import { describe, expect, it } from "vitest";
import { exports } from "cloudflare:workers";
import { SearchPartition } from "../src/search/partition";
import { IndexDirectory } from "../src/search/directory";
import { BASE, postTraces, protobufRequest, randomHex, methodPatches } from "./helpers";

const MS = 1_000_000n;
const { patch } = methodPatches();

const failing = () => async () => {
	throw new Error("injected: partition unavailable");
};

async function get(path: string): Promise<Response> {
	return exports.default.fetch(new Request(`${BASE}${path}`, { headers: { authorization: "Bearer globex-token" } }));
}

describe("index unavailable", () => {
	it("answers 503 with Retry-After for search, tags, tag values and index status when a partition fails", async () => {
		// One trace, so the tenant's current window exists and requests reach its partition.
		const traceId = randomHex(16);
		const start = BigInt(Date.now() - 100) * MS;
		const sent = await postTraces(protobufRequest([{ traceId, spanId: randomHex(8), name: "op", service: "unavailable-svc", startNs: start, endNs: start + MS, attributes: { k: "v" } }]), { headers: { authorization: "Bearer globex-token" } });
		expect(sent.status).toBe(200);
		await sent.arrayBuffer();
		for (let i = 0; i < 100 && !(await (await get("/api/search?q={}")).text()).includes(traceId); i++) await new Promise((r) => setTimeout(r, 50));

		for (const method of ["search", "tagNames", "tagValues", "stats"] as const) patch(SearchPartition.prototype, method, failing as never);
		const paths = ["/api/search?q={}", '/api/search?q={span.k="v"}', "/api/v2/search/tags", "/api/search/tags", "/api/v2/search/tag/span.k/values", "/api/search/tag/k/values", '/api/v2/search/tag/span.k/values?q={name="op"}', "/api/status/index"];
		for (const path of paths) {
			const response = await get(path);
			expect(response.status, path).toBe(503);
			expect(response.headers.get("retry-after"), path).toBe("1");
			expect(((await response.json()) as { message: string }).message, path).toContain("search index is unavailable");
		}
	});

	it("answers 503 with Retry-After when the tenant's directory fails", async () => {
		patch(IndexDirectory.prototype, "windows", failing as never);
		// A range no earlier test looked at (readers cache the directory's answer for a second).
		const end = Math.floor(Date.now() / 1000) - 7_200;
		for (const path of [`/api/search?q={}&start=${end - 60}&end=${end}`, `/api/v2/search/tag/span.k/values?start=${end - 60}&end=${end}`]) {
			const response = await get(path);
			expect(response.status, path).toBe(503);
			expect(response.headers.get("retry-after"), path).toBe("1");
		}
	});
});
