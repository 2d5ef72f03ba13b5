// Usage: npm run screenshot [-- --out docs/viewer.png]
// Starts the assembler (wrangler dev), posts the demo trace (three Workers and a Durable Object,
// merged into one trace), opens its page in headless Chromium with a merged span selected, and
// writes a PNG of it for the README.
import { resolve } from "node:path";
import { option } from "./lib/args.ts";
import { launchChromium } from "./lib/browser.ts";
import { demoTrace } from "./lib/demo-trace.ts";
import { startDevServer } from "./lib/dev-server.ts";

const out = resolve(import.meta.dirname, "..", option("out", "docs/viewer.png"));
const server = await startDevServer({ vars: { ALLOW_ANONYMOUS: "true", QUIET_PERIOD_MS: "1000" } });
const browser = await launchChromium();
try {
	const demo = demoTrace();
	for (const request of demo.requests) {
		const response = await fetch(`${server.url}/v1/traces`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(request) });
		if (!response.ok) throw new Error(`export answered ${response.status}`);
	}
	const page = await browser.newPage({ viewport: { width: 1440, height: 760 }, colorScheme: "light" });
	await page.goto(`${server.url}/ui/trace/${demo.traceId}`);
	await page.waitForSelector(`[data-span-count="${demo.spanCount}"]`, { timeout: 30_000 });
	await page.waitForSelector('[data-trace-status="complete"]', { timeout: 30_000 });
	// The cart Worker's span: merged in from its own trace, so its detail shows where it came from.
	await page.locator("[data-span-id]", { has: page.locator(".service-name", { hasText: /^cart$/ }) }).first().click();
	await page.screenshot({ path: out });
	console.log(`wrote ${out} (trace ${demo.traceId}, ${demo.spanCount} spans)`);
} finally {
	await browser.close();
	await server.stop();
}
