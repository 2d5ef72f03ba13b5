// The web viewer's trace page in a real headless Chromium against `wrangler dev`: exactly the
// trace's spans at the right depths, live growth without a reload, merges, the status turning
// complete, the token prompt, keyboard navigation, a 10,000-span trace rendered virtualized.
// Every test also checks that no request leaves the origin and nothing is logged as an error.
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { launchChromium } from "../../../scripts/lib/browser.ts";
import { bigTrace, postBigTrace } from "../../../scripts/lib/big-trace.ts";
import { demoTrace } from "../../../scripts/lib/demo-trace.ts";
import { startDevServer, type DevServer } from "../../../scripts/lib/dev-server.ts";
import { depthsOf, openSession, shownDepths, TOKEN_KEY } from "./page-session.ts";

const TOKEN = "viewer-e2e-token";
const auth = { authorization: `Bearer ${TOKEN}` };
let server: DevServer;
let browser: Browser;

beforeAll(async () => {
	[server, browser] = await Promise.all([startDevServer({ vars: { AUTH_TOKENS: TOKEN, QUIET_PERIOD_MS: "1500" } }), launchChromium()]);
});
afterAll(async () => {
	await browser?.close();
	await server?.stop();
});

async function post(request: unknown): Promise<void> {
	const response = await fetch(`${server.url}/v1/traces`, { method: "POST", headers: { "content-type": "application/json", ...auth }, body: JSON.stringify(request) });
	expect(response.status).toBe(200);
}

async function apiTrace(traceId: string) {
	const response = await fetch(`${server.url}/v1/traces/${traceId}`, { headers: auth });
	expect(response.status).toBe(200);
	return (await response.json()) as { resourceSpans: { scopeSpans: { spans: { spanId: string; parentSpanId?: string }[] }[] }[] };
}

async function apiSpanIds(traceId: string): Promise<Set<string>> {
	const response = await fetch(`${server.url}/v1/traces/${traceId}`, { headers: auth });
	if (response.status === 404) return new Set();
	return new Set(depthsOf((await response.json()) as Parameters<typeof depthsOf>[0]).keys());
}

const sameIds = (shown: Map<string, number>, api: Set<string>) => shown.size === api.size && [...api].every((id) => shown.has(id));

async function untilSettled(traceId: string, spanCount: number): Promise<void> {
	await expect.poll(async () => depthsOf(await apiTrace(traceId)).size, { timeout: 20_000 }).toBe(spanCount);
}

const FAILED_404 = /Failed to load resource: the server responded with a status of 404/;
const FAILED_401 = /Failed to load resource: the server responded with a status of 401/;

describe("trace page", () => {
	it("shows exactly the trace's spans at their depths, the merged traces and the rule, and turns complete", async () => {
		const demo = demoTrace();
		for (const request of demo.requests) await post(request);
		await untilSettled(demo.traceId, demo.spanCount);
		const expected = depthsOf(await apiTrace(demo.traceId));

		const session = await openSession(browser, server.url, { token: TOKEN });
		const { page } = session;
		const document = await page.goto(`${server.url}/ui/trace/${demo.traceId}`);
		// The viewer's security headers (src/ui/_headers), also on a deep link the SPA fallback serves.
		expect(document!.headers()).toMatchObject({ "x-content-type-options": "nosniff", "referrer-policy": "no-referrer" });
		expect(document!.headers()["content-security-policy"]).toMatch(/default-src 'self';.*script-src 'self';.*frame-ancestors 'none'/);
		await page.waitForSelector(`[data-span-id]`);
		await expect.poll(async () => (await shownDepths(page)).size).toBe(demo.spanCount);
		expect(await shownDepths(page)).toEqual(expected);
		expect(Math.max(...expected.values())).toBeGreaterThanOrEqual(4); // the demo nests through three merged Workers
		for (const child of demo.childTraceIds) {
			await expect.poll(() => page.locator(`[data-merged-trace="${child}"]`).textContent()).toContain("traceparent");
		}
		await page.waitForSelector('[data-trace-status="complete"]', { timeout: 20_000 });

		// A merged span's detail says which trace it came from.
		const mergedSpan = await page.$$eval("[data-span-id]", (rows) => rows.map((r) => r.getAttribute("data-span-id")!));
		await page.click(`[data-span-id="${mergedSpan[3]}"]`);
		const original = await page.getAttribute("[data-original-trace-id]", "data-original-trace-id");
		expect(demo.childTraceIds).toContain(original);
		session.check();
		await session.close();
	});

	it("opened with a merged child's id, shows the merged trace and says so", async () => {
		const demo = demoTrace();
		for (const request of demo.requests) await post(request);
		await untilSettled(demo.traceId, demo.spanCount);
		const session = await openSession(browser, server.url, { token: TOKEN });
		const child = demo.childTraceIds[1]!;
		await session.page.goto(`${server.url}/ui/trace/${child}`);
		await session.page.waitForSelector(`[data-merged-from="${child}"]`);
		// A callee's callee may pass through its caller's trace on the way (a chain of redirects).
		await expect.poll(() => session.page.textContent("[data-trace-header-id]")).toBe(demo.traceId);
		await expect.poll(async () => (await shownDepths(session.page)).size).toBe(demo.spanCount);
		session.check();
		await session.close();
	});

	it("shows spans as they are posted, merged callees under their caller, without a reload, then complete", async () => {
		const demo = demoTrace();
		const session = await openSession(browser, server.url, { token: TOKEN });
		const { page } = session;
		await page.goto(`${server.url}/ui/trace/${demo.traceId}`);
		await page.waitForSelector('[data-trace-status="waiting"]');
		await page.waitForSelector('[data-connection="live"]');
		await page.evaluate(() => ((globalThis as unknown as { stayed: boolean }).stayed = true));

		// The demo's exports arrive in pieces and out of order (a callee's callee first, which can join
		// the trace only once its own caller's trace arrives); after each, the page shows what the API has.
		for (const request of demo.requests) {
			await post(request);
			await expect
				.poll(async () => sameIds(await shownDepths(page), await apiSpanIds(demo.traceId)), { timeout: 10_000 })
				.toBe(true);
		}
		await untilSettled(demo.traceId, demo.spanCount);
		const expected = depthsOf(await apiTrace(demo.traceId));
		await expect.poll(() => shownDepths(page), { timeout: 10_000 }).toEqual(expected);
		for (const child of demo.childTraceIds) await page.waitForSelector(`[data-merged-trace="${child}"]`);
		await page.waitForSelector('[data-trace-status="complete"]', { timeout: 20_000 });
		expect(await page.evaluate(() => (globalThis as unknown as { stayed?: boolean }).stayed)).toBe(true);

		// A late span reopens the trace, and the page says so.
		const late = structuredClone(demo.requests[0]) as { resourceSpans: { scopeSpans: { spans: { spanId: string; name: string }[] }[] }[] };
		const lateSpan = late.resourceSpans[0]!.scopeSpans[0]!.spans[0]!;
		lateSpan.spanId = "feedfacecafe0001";
		lateSpan.name = "late span";
		late.resourceSpans = [{ ...late.resourceSpans[0]!, scopeSpans: [{ ...late.resourceSpans[0]!.scopeSpans[0]!, spans: [lateSpan] }] }];
		await post(late);
		await page.waitForSelector('[data-span-id="feedfacecafe0001"]');
		await page.waitForSelector('[data-trace-status="partial"]');
		await page.waitForSelector('[data-trace-status="complete"]', { timeout: 20_000 });
		// The only failed load: the first status check, before the trace existed.
		session.check([FAILED_404]);
		await session.close();
	});

	it("follows a trace that is merged into its caller's while it is watched", async () => {
		const demo = demoTrace();
		// The demo's first export is a callee's callee: its own trace until the callers' spans arrive.
		const [first, ...rest] = demo.requests as { resourceSpans: { scopeSpans: { spans: { traceId: string }[] }[] }[] }[];
		const calleeId = first!.resourceSpans[0]!.scopeSpans[0]!.spans[0]!.traceId;
		expect(demo.childTraceIds).toContain(calleeId);
		await post(first);
		const session = await openSession(browser, server.url, { token: TOKEN });
		const { page } = session;
		await page.goto(`${server.url}/ui/trace/${calleeId}`);
		await page.waitForSelector('[data-connection="live"]');
		expect(await page.textContent("[data-trace-header-id]")).toBe(calleeId);
		await expect.poll(async () => (await shownDepths(page)).size).toBeGreaterThan(0);
		for (const request of rest) await post(request);
		await page.waitForSelector(`[data-merged-from="${calleeId}"]`, { timeout: 15_000 });
		await expect.poll(() => page.textContent("[data-trace-header-id]"), { timeout: 15_000 }).toBe(demo.traceId);
		await expect.poll(async () => (await shownDepths(page)).size, { timeout: 15_000 }).toBe(demo.spanCount);
		session.check();
		await session.close();
	});

	it("asks for a token on 401, then shows the trace; the token stays out of every URL and can be forgotten", async () => {
		const demo = demoTrace();
		for (const request of demo.requests) await post(request);
		await untilSettled(demo.traceId, demo.spanCount);
		const session = await openSession(browser, server.url);
		const { page } = session;
		const authorizations: (string | undefined)[] = [];
		page.on("request", (r) => r.url().includes("/v1/") && authorizations.push(r.headers().authorization));
		await page.goto(`${server.url}/ui/trace/${demo.traceId}`);
		const field = page.locator('[data-token-prompt] input[type="password"]');
		await field.waitFor();
		await field.fill(TOKEN);
		await page.click('[data-token-prompt] button[type="submit"]');
		await expect.poll(async () => (await shownDepths(page)).size, { timeout: 15_000 }).toBe(demo.spanCount);
		expect(await page.evaluate((key) => localStorage.getItem(key), TOKEN_KEY)).toBe(TOKEN);
		expect(authorizations).toContain(`Bearer ${TOKEN}`);
		expect(session.requests.filter((url) => url.includes(TOKEN))).toEqual([]);

		await page.click("[data-forget-token]");
		expect(await page.evaluate((key) => localStorage.getItem(key), TOKEN_KEY)).toBeNull();
		await page.locator("[data-token-prompt]").waitFor(); // the page re-reads without a token: 401 again
		session.check([FAILED_401]);
		await session.close();
	});

	it("moves through spans with the keyboard, collapses and expands subtrees", async () => {
		const demo = demoTrace();
		for (const request of demo.requests) await post(request);
		await untilSettled(demo.traceId, demo.spanCount);
		const session = await openSession(browser, server.url, { token: TOKEN });
		const { page } = session;
		await page.goto(`${server.url}/ui/trace/${demo.traceId}`);
		await expect.poll(async () => (await shownDepths(page)).size).toBe(demo.spanCount);
		const order = await page.$$eval("[data-span-id]", (rows) => rows.map((r) => r.getAttribute("data-span-id")!));
		await page.focus(".virtual-list");
		await page.keyboard.press("ArrowDown");
		await page.keyboard.press("ArrowDown");
		expect(await page.getAttribute("[data-span-detail]", "data-span-detail")).toBe(order[1]);
		await page.keyboard.press("Home");
		await page.keyboard.press("ArrowLeft"); // collapse the root: only it remains
		await expect.poll(async () => (await shownDepths(page)).size).toBe(1);
		await page.keyboard.press("ArrowRight");
		await expect.poll(async () => (await shownDepths(page)).size).toBe(demo.spanCount);
		await page.keyboard.press("Escape");
		await page.waitForSelector("[data-span-detail]", { state: "detached" });
		session.check();
		await session.close();
	});

	it("renders a 10,000-span trace with only the visible rows in the page, and scrolls to its end", async () => {
		const big = bigTrace(10_000);
		await postBigTrace(server.url, big, TOKEN);
		const session = await openSession(browser, server.url, { token: TOKEN });
		const { page } = session;
		await page.goto(`${server.url}/ui/trace/${big.traceId}`);
		await page.waitForSelector(`[data-span-id="${big.order[0]}"][data-depth="0"]`, { timeout: 30_000 });
		await expect.poll(() => page.getAttribute("[data-span-count]", "data-span-count"), { timeout: 30_000 }).toBe("10000");
		const inDom = await shownDepths(page);
		expect(inDom.size).toBeGreaterThan(20);
		expect(inDom.size).toBeLessThan(100);
		for (const [id, depth] of inDom) expect(depth, id).toBe(big.depths.get(id));
		await page.$eval(".virtual-list", (el) => (el.scrollTop = el.scrollHeight));
		const last = big.order[big.order.length - 1]!;
		await page.waitForSelector(`[data-span-id="${last}"][data-depth="${big.depths.get(last)}"]`);
		session.check();
		await session.close();
	});
});

describe("the Worker's root", () => {
	it("takes a browser from / to the viewer", async () => {
		const session = await openSession(browser, server.url, { token: TOKEN });
		await session.page.goto(`${server.url}/`);
		await session.page.waitForSelector("[data-search-form]");
		expect(new URL(session.page.url()).pathname).toBe("/ui/");
		// The form's suggestions come from the Tempo API's tags and tag values: all answered.
		await session.page.waitForLoadState("networkidle");
		expect(session.requests.some((url) => url.includes("/api/v2/search/tags"))).toBe(true);
		session.check();
		await session.close();
	});
});
