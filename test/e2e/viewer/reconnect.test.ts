// The trace page's live socket across a server restart: the page says it is reconnecting, opens a
// new socket by itself, keeps what it showed without duplicates, and shows spans posted afterwards.
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, expect, it } from "vitest";
import { launchChromium } from "../../../scripts/lib/browser.ts";
import { demoTrace } from "../../../scripts/lib/demo-trace.ts";
import { startDevServer, type DevServer } from "../../../scripts/lib/dev-server.ts";
import { openSession, shownDepths } from "./page-session.ts";

const vars = { ALLOW_ANONYMOUS: "true", QUIET_PERIOD_MS: "60000" };
let server: DevServer;
let browser: Browser;

beforeAll(async () => {
	[server, browser] = await Promise.all([startDevServer({ vars }), launchChromium()]);
});
afterAll(async () => {
	await browser?.close();
	await server?.stop();
});

async function post(request: unknown): Promise<void> {
	const response = await fetch(`${server.url}/v1/traces`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(request) });
	expect(response.status).toBe(200);
}

it("reconnects after the server restarts and goes on showing new spans", async () => {
	const demo = demoTrace();
	const [first, ...rest] = demo.requests;
	const root = demo.requests.find((r) => JSON.stringify(r).includes(demo.traceId))!;
	await post(root);
	const session = await openSession(browser, server.url);
	const { page } = session;
	await page.goto(`${server.url}/ui/trace/${demo.traceId}`);
	await page.waitForSelector('[data-connection="live"]');
	const before = (await shownDepths(page)).size;
	expect(before).toBeGreaterThan(0);

	await server.stop();
	await page.waitForSelector('[data-connection="reconnecting"]');
	server = await startDevServer({ vars, port: server.port, persistTo: server.persistTo });
	await page.waitForSelector('[data-connection="live"]', { timeout: 30_000 });
	expect((await shownDepths(page)).size).toBe(before);

	for (const request of [first, ...rest]) if (request !== root) await post(request);
	await expect.poll(async () => (await shownDepths(page)).size, { timeout: 15_000 }).toBe(demo.spanCount);
	// While the server was down the socket failed to open: the browser reports those, nothing else.
	session.check([/WebSocket connection to .* failed/]);
	await session.close();
});
