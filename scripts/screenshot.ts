// Usage: npm run screenshot [-- --out docs/viewer.png --search-out docs/viewer-search.png]
// Starts the assembler (wrangler dev), posts the demo trace (three Workers and a Durable Object,
// merged into one trace) three times, opens one trace's page in headless Chromium with a merged
// span selected, then the search page listing them, and writes a PNG of each for the README.
import { resolve } from "node:path";
import { option } from "./lib/args.ts";
import { launchChromium } from "./lib/browser.ts";
import { demoTrace } from "./lib/demo-trace.ts";
import { startDevServer } from "./lib/dev-server.ts";

const out = resolve(import.meta.dirname, "..", option("out", "docs/viewer.png"));
const searchOut = resolve(import.meta.dirname, "..", option("search-out", "docs/viewer-search.png"));
const server = await startDevServer({ vars: { ALLOW_ANONYMOUS: "true", QUIET_PERIOD_MS: "1000" } });
const browser = await launchChromium();
try {
	const demos = [demoTrace(), demoTrace(), demoTrace()];
	for (const d of demos) {
		for (const request of d.requests) {
			const response = await fetch(`${server.url}/v1/traces`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(request) });
			if (!response.ok) throw new Error(`export answered ${response.status}`);
		}
	}
	const demo = demos[0]!;
	const page = await browser.newPage({ viewport: { width: 1440, height: 760 }, colorScheme: "light" });
	await page.goto(`${server.url}/ui/trace/${demo.traceId}`);
	await page.waitForSelector(`[data-span-count="${demo.spanCount}"]`, { timeout: 30_000 });
	await page.waitForSelector('[data-trace-status="complete"]', { timeout: 30_000 });
	// The cart Worker's span: merged in from its own trace, so its detail shows where it came from.
	await page.locator("[data-span-id]", { has: page.locator(".service-name", { hasText: /^cart$/ }) }).first().click();
	await page.screenshot({ path: out });
	console.log(`wrote ${out} (trace ${demo.traceId}, ${demo.spanCount} spans)`);

	// The page searches once (and again only while a result is open): wait until the index has all three.
	const q = '{resource.service.name="pricing"}';
	for (let found = 0, tries = 0; found < demos.length && tries < 60; tries++) {
		const now = Math.ceil(Date.now() / 1000);
		const body = (await (await fetch(`${server.url}/api/search?${new URLSearchParams({ q, start: String(now - 900), end: String(now) })}`)).json()) as { traces?: unknown[] };
		found = body.traces?.length ?? 0;
		if (found < demos.length) await new Promise((r) => setTimeout(r, 500));
	}
	await page.setViewportSize({ width: 1440, height: 360 });
	await page.goto(`${server.url}/ui/?q=${encodeURIComponent(q)}&range=15m`);
	for (const d of demos) await page.waitForSelector(`[data-trace-id="${d.traceId}"] [data-result-status="complete"]`, { timeout: 30_000 });
	await page.screenshot({ path: searchOut });
	console.log(`wrote ${searchOut}`);
} finally {
	await browser.close();
	await server.stop();
}
