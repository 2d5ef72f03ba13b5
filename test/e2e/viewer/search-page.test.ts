// The web viewer's search page in headless Chromium against `wrangler dev` and the real Tempo API
// (GET /api/search, tags and tag values): filters composed into TraceQL, a search as a link,
// results newest first with open traces marked and refreshed, a click opening the trace.
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { launchChromium } from "../../../scripts/lib/browser.ts";
import { demoTrace } from "../../../scripts/lib/demo-trace.ts";
import { startDevServer, type DevServer } from "../../../scripts/lib/dev-server.ts";
import { openSession, shownDepths } from "./page-session.ts";

const TOKEN = "viewer-search-token";
const auth = { authorization: `Bearer ${TOKEN}` };
// Long enough that a trace just posted is still open when the page first lists it.
const QUIET_MS = 10_000;
let server: DevServer;
let browser: Browser;

beforeAll(async () => {
	[server, browser] = await Promise.all([startDevServer({ vars: { AUTH_TOKENS: TOKEN, QUIET_PERIOD_MS: String(QUIET_MS) } }), launchChromium()]);
});
afterAll(async () => {
	await browser?.close();
	await server?.stop();
});

async function postDemo() {
	const demo = demoTrace();
	for (const request of demo.requests) {
		const response = await fetch(`${server.url}/v1/traces`, { method: "POST", headers: { "content-type": "application/json", ...auth }, body: JSON.stringify(request) });
		expect(response.status).toBe(200);
	}
	return demo;
}

/** Waits until the API's own search lists the trace (the index takes a moment), so the page's one search finds it. */
async function untilSearchable(q: string, traceId: string): Promise<void> {
	await expect
		.poll(
			async () => {
				const now = Math.ceil(Date.now() / 1000);
				const response = await fetch(`${server.url}/api/search?${new URLSearchParams({ q, start: String(now - 3600), end: String(now) })}`, { headers: auth });
				const body = (await response.json()) as { traces?: { traceID: string }[] };
				return (body.traces ?? []).some((t) => t.traceID.padStart(32, "0") === traceId);
			},
			{ timeout: 20_000 },
		)
		.toBe(true);
}

describe("search page", () => {
	it("composes the filters into TraceQL, puts the search in the URL, finds the trace, and a click opens it", async () => {
		const demo = await postDemo();
		await untilSearchable('{resource.service.name="pricing" && status=error}', demo.traceId);
		const session = await openSession(browser, server.url, { token: TOKEN });
		const { page } = session;
		await page.goto(`${server.url}/ui/`);
		await page.fill('[data-search-form] input[name="service"]', "pricing");
		await page.selectOption('[data-search-form] select[name="status"]', "error");
		expect(await page.inputValue('[data-search-form] input[name="q"]')).toBe('{resource.service.name="pricing" && status=error}');
		await page.selectOption('[data-search-form] select[name="range"]', "15m");
		await page.click('[data-search-form] button[type="submit"]');

		const row = page.locator(`[data-trace-id="${demo.traceId}"]`);
		await row.waitFor({ timeout: 15_000 });
		const url = new URL(page.url());
		expect(url.pathname).toBe("/ui/");
		expect(url.searchParams.get("q")).toBe('{resource.service.name="pricing" && status=error}');
		expect(url.searchParams.get("range")).toBe("15m");
		expect(await row.textContent()).toContain("storefront");
		await expect.poll(() => row.locator("[data-result-status]").getAttribute("data-result-status")).not.toBe("unknown");

		await row.click();
		await page.waitForURL(`**/ui/trace/${demo.traceId}`);
		await expect.poll(async () => (await shownDepths(page)).size, { timeout: 15_000 }).toBe(demo.spanCount);
		// Back to the results with the browser's own history.
		await page.goBack();
		await page.locator(`[data-trace-id="${demo.traceId}"]`).waitFor();
		session.check();
		await session.close();
	});

	it("runs the search a shared link names, lists results newest first, marks an open trace and refreshes it until complete", async () => {
		const older = await postDemo();
		// `{}`: an open trace is listed at once (its spans are matched once it is finalized).
		await untilSearchable("{}", older.traceId);
		await new Promise((r) => setTimeout(r, 1100)); // start times at least a second apart
		const newer = await postDemo();
		await untilSearchable("{}", newer.traceId);
		const now = Math.ceil(Date.now() / 1000);
		const session = await openSession(browser, server.url, { token: TOKEN });
		const { page } = session;
		await page.goto(`${server.url}/ui/?${new URLSearchParams({ q: "{}", start: String(now - 600), end: String(now + 60) })}`);
		await page.locator(`[data-trace-id="${older.traceId}"]`).waitFor({ timeout: 15_000 });
		const order = await page.$$eval("[data-trace-id]", (rows) => rows.map((r) => r.getAttribute("data-trace-id")));
		expect(order.indexOf(newer.traceId)).toBeGreaterThanOrEqual(0);
		expect(order.indexOf(newer.traceId)).toBeLessThan(order.indexOf(older.traceId));
		// Just posted, so open; after the quiet period the page's refresh shows it complete, no reload.
		const status = page.locator(`[data-trace-id="${newer.traceId}"] [data-result-status]`);
		await expect.poll(() => status.getAttribute("data-result-status"), { timeout: 10_000 }).toBe("partial");
		await expect.poll(() => status.getAttribute("data-result-status"), { timeout: QUIET_MS + 30_000 }).toBe("complete");
		session.check();
		await session.close();
	});

	it("puts a custom time range into the URL as Tempo's start and end", async () => {
		const session = await openSession(browser, server.url, { token: TOKEN });
		const { page } = session;
		await page.goto(`${server.url}/ui/`);
		await page.selectOption('[data-search-form] select[name="range"]', "custom");
		await page.fill('[data-search-form] input[name="start"]', "2026-01-02T03:04:05");
		await page.fill('[data-search-form] input[name="end"]', "2026-01-02T04:04:05");
		await page.click('[data-search-form] button[type="submit"]');
		await page.waitForURL(/start=/);
		const params = new URL(page.url()).searchParams;
		expect(Number(params.get("end")) - Number(params.get("start"))).toBe(3600);
		expect(params.get("range")).toBeNull();
		await page.locator("[data-search-empty], [data-search-results]").first().waitFor();
		session.check();
		await session.close();
	});

	it("says what is wrong with a query the API refuses", async () => {
		const session = await openSession(browser, server.url, { token: TOKEN });
		await session.page.goto(`${server.url}/ui/?q=${encodeURIComponent("{ name = }")}`);
		const error = session.page.locator("[data-search-error]");
		await error.waitFor();
		expect(await error.textContent()).toMatch(/TraceQL/i);
		session.check([/status of 400/]);
		await session.close();
	});
});
