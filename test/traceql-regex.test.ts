// Issue 18, security #1: one query must not stall search for everyone. TraceQL regexes run on a
// linear-time engine (RE2 semantics, as Tempo), with a cap on the compiled program, on the value
// length matched and on the work of one query. Each attack that stalled the old backtracking
// RegExp answers here within 100 ms over 1 KB values, or is refused with a 400.
import { describe, expect, it } from "vitest";
import { exports } from "cloudflare:workers";
import { BASE, finalizeNow, postTraces, protobufRequest, randomHex, type SpanSpec } from "./helpers";
import { compileQuery } from "../src/traceql/match";
import { parseQuery } from "../src/traceql/parse";
import { RegexBudget, REGEX_WORK_BUDGET } from "../src/traceql/regex";

const MS = 1_000_000n;
/** A URL that almost matches every attack: 1.2 KB of path, kept cut to 1 KB by the index. */
const LONG_URL = `https://shop.example/${"e".repeat(1_200)}`;

async function seed(count: number): Promise<string[]> {
	const ids: string[] = [];
	const start = BigInt(Date.now()) * MS - 60_000n * MS;
	const spans: SpanSpec[] = [];
	for (let i = 0; i < count; i++) {
		const traceId = randomHex(16);
		ids.push(traceId);
		spans.push({ traceId, spanId: randomHex(8), name: "GET /", service: "shop", kind: 2, startNs: start + BigInt(i) * MS, endNs: start + BigInt(i + 5) * MS, attributes: { "http.url": LONG_URL, "db.statement": `SELECT ${"e".repeat(1_100)}` } });
	}
	const response = await postTraces(protobufRequest(spans), { headers: { authorization: "Bearer test-token" } });
	expect(response.status).toBe(200);
	await response.arrayBuffer();
	for (const id of ids) await finalizeNow(id);
	return ids;
}

/** Wall time of one search: the clock moves at I/O, so reading it after the awaited response counts the partition's work. */
async function timedSearch(q: string): Promise<{ status: number; ms: number; body: string }> {
	const url = new URL(`${BASE}/api/search`);
	url.searchParams.set("q", q);
	url.searchParams.set("start", String(Math.floor(Date.now() / 1000) - 3600));
	url.searchParams.set("end", String(Math.floor(Date.now() / 1000) + 60));
	await new Promise((r) => setTimeout(r, 1));
	const started = Date.now();
	const response = await exports.default.fetch(new Request(url, { headers: { authorization: "Bearer test-token" } }));
	const body = await response.text();
	return { status: response.status, ms: Date.now() - started, body };
}

const ATTACKS = [
	// [^] is "any character" to JavaScript and was read by the old guard as a class: 13 s on 32 characters.
	'{ .http.url =~ "[^](.+)+]" }',
	'{ .http.url =~ "(.+)+x" }',
	// Bounded repeats and * after a literal } were not counted by the old guard.
	'{ .http.url =~ "(.{0,20}){0,20}x" }',
	'{ .http.url =~ "(e}*e*)*x" }',
	'{ .db.statement =~ ".{0,1000}.{0,1000}x" }',
	// Sixteen allowed .*.*.*x conditions: ≈ 1.5 s per 1 KB value before.
	`{ ${Array.from({ length: 16 }, () => '.db.statement =~ ".*.*.*x"').join(" && ")} }`,
	`{ ${Array.from({ length: 16 }, () => '.http.url =~ ".*e.*e.*e.*x"').join(" || ")} }`,
];

describe("TraceQL regular expressions", () => {
	it("answer every attack over 1 KB values within 100 ms, or refuse it with a 400", async () => {
		await seed(20);
		// Warm the path once (module load, first object start-up) so the timings are of the matching.
		await timedSearch('{ .http.url =~ "x" }');
		for (const q of ATTACKS) {
			const { status, ms, body } = await timedSearch(q);
			expect([200, 400], `${q}: ${body.slice(0, 200)}`).toContain(status);
			if (status === 200) expect(ms, q).toBeLessThan(100);
			else expect(body, q).toMatch(/regular expression/);
		}
	});

	it("finds what Tempo-valid patterns refused by the old guard match", async () => {
		const [id] = await seed(1);
		const { status, body } = await timedSearch('{ .http.url =~ "https://shop\\\\.example/(e|f)*" }');
		expect(status).toBe(200);
		expect(body).toContain(id!.replace(/^0+/, ""));
	});

	it("stops a query whose matching exceeds the per-query budget, with a message", () => {
		const query = parseQuery(`{ ${Array.from({ length: 16 }, (_, i) => `name =~ ".*${i}.*e.*e.*x"`).join(" || ")} }`);
		const compiled = compileQuery(query);
		const spans = Array.from({ length: 1_000 }, (_, i) => [randomHex(8), "e".repeat(1_024), "1", 1, 1, 0, 0, [], "", ""] as const);
		const entry = { traceId: randomHex(16), startNs: "1", endNs: "2", spanCount: 1_000, services: {}, values: [], resources: [[]], spans: spans.map((s) => [...s]) } as unknown as Parameters<typeof compiled.match>[0];
		// 1,000 spans × 16 patterns × 1 KB per entry: a few entries exhaust the budget.
		expect(() => {
			for (let i = 0; i < 20; i++) compiled.match({ ...entry }, 3);
		}).toThrow(/exceeded their matching budget/);
		expect(REGEX_WORK_BUDGET).toBeGreaterThan(0);
	});

	it("restarts the budget for each evaluation (after the synchronous scan)", async () => {
		const budget = new RegexBudget();
		budget.charge(1_000, REGEX_WORK_BUDGET / 2_000);
		await Promise.resolve();
		budget.charge(1_000, REGEX_WORK_BUDGET / 2_000);
		expect(() => budget.charge(1_000, REGEX_WORK_BUDGET / 1_000)).toThrow(/budget/);
	});
});
