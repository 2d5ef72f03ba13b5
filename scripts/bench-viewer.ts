// Usage: npm run bench-viewer [-- --spans 10000 --rounds 5]
// The web viewer with a big trace in headless Chromium against wrangler dev: time from navigation
// to the first painted span rows, and to all spans loaded, for the trace while open and after it
// was finalized to R2, each beside its floor (the same snapshot over the live socket to Node, no
// browser); then the frame times while the waterfall scrolls through every row.
import { option } from "./lib/args.ts";
import { launchChromium } from "./lib/browser.ts";
import { bigTrace, postBigTrace } from "./lib/big-trace.ts";
import { startDevServer } from "./lib/dev-server.ts";
import { median, quantile } from "./lib/stats.ts";
import type { Browser } from "playwright-core";

const spans = Number(option("spans", "10000"));
const rounds = Number(option("rounds", "5"));
// Long enough for the open-trace rounds to finish while the trace is still open.
const QUIET_MS = 60_000;
// As deployed: the API wants a token, and the browser has one stored (the viewer then opens the
// live socket beside its first request instead of after it).
const TOKEN = "bench-viewer-token";
const TOKEN_SCRIPT = `localStorage.setItem("trace-assembler.token", ${JSON.stringify(TOKEN)});`;

// Runs in the page from its first byte: the moment the first span row is in the DOM, then the
// frame after it (when it has been painted), in ms since navigation start.
const PAINT_PROBE = `
	new MutationObserver((_, observer) => {
		if (!document.querySelector("[data-span-id]")) return;
		observer.disconnect();
		requestAnimationFrame(() => requestAnimationFrame(() => (window.__firstRowsPaintedMs = performance.now())));
	}).observe(document, { childList: true, subtree: true });
`;

// Scrolls the waterfall half a screen per frame to the bottom, timing each frame.
const SCROLL_PROBE = `new Promise((done) => {
	const list = document.querySelector(".virtual-list");
	const frames = [];
	let last = performance.now();
	let rowsInDom = 0;
	const step = () => {
		const now = performance.now();
		frames.push(now - last);
		last = now;
		rowsInDom = Math.max(rowsInDom, document.querySelectorAll("[data-span-id]").length);
		if (list.scrollTop + list.clientHeight >= list.scrollHeight - 1) return done({ frames: frames.slice(1), rowsInDom });
		list.scrollTop += list.clientHeight / 2;
		requestAnimationFrame(step);
	};
	requestAnimationFrame(step);
})`;

async function loadTimes(browser: Browser, url: string): Promise<{ firstRowsMs: number; allSpansMs: number }> {
	const context = await browser.newContext({ viewport: { width: 1440, height: 900 } });
	await context.addInitScript(TOKEN_SCRIPT + PAINT_PROBE);
	const page = await context.newPage();
	await page.goto(url);
	await page.waitForSelector(`[data-span-count="${spans}"]`, { timeout: 60_000 });
	const allSpansMs = await page.evaluate(() => performance.now());
	await page.waitForFunction(() => (globalThis as unknown as { __firstRowsPaintedMs?: number }).__firstRowsPaintedMs !== undefined);
	const firstRowsMs = await page.evaluate(() => (globalThis as unknown as { __firstRowsPaintedMs: number }).__firstRowsPaintedMs);
	await context.close();
	return { firstRowsMs, allSpansMs };
}

/** Scrolls the waterfall from top to bottom, one screen per frame, and returns each frame's duration. */
async function scrollFrames(browser: Browser, url: string): Promise<{ frames: number[]; rowsInDom: number }> {
	const context = await browser.newContext({ viewport: { width: 1440, height: 900 } });
	await context.addInitScript(TOKEN_SCRIPT);
	const page = await context.newPage();
	await page.goto(url);
	await page.waitForSelector(`[data-span-count="${spans}"]`, { timeout: 60_000 });
	const result = (await page.evaluate(SCROLL_PROBE)) as { frames: number[]; rowsInDom: number };
	await context.close();
	return result;
}

/** The floor under the page's figures: the same snapshot over the live socket to Node, no browser. */
async function snapshotMs(url: string, traceId: string): Promise<{ firstFrameMs: number; lastFrameMs: number }> {
	const t0 = performance.now();
	const socket = new WebSocket(`${url.replace(/^http/, "ws")}/v1/traces/${traceId}/live`, ["bearer", TOKEN]);
	let firstFrameMs = 0;
	const lastFrameMs = await new Promise<number>((done, fail) => {
		socket.addEventListener("error", () => fail(new Error("live socket failed")));
		socket.addEventListener("message", (event) => {
			const frame = JSON.parse(String(event.data)) as { type: string; last?: boolean };
			if (!firstFrameMs) firstFrameMs = performance.now() - t0;
			if (frame.type === "snapshot" && frame.last) done(performance.now() - t0);
		});
	});
	socket.close();
	return { firstFrameMs, lastFrameMs };
}


console.error(`bench-viewer: a ${spans}-span trace, ${rounds} page loads each open and finalized; starting wrangler dev ...`);
const server = await startDevServer({ vars: { AUTH_TOKENS: TOKEN, QUIET_PERIOD_MS: String(QUIET_MS), MAX_TRACE_AGE_MS: "600000" } });
const browser = await launchChromium();
try {
	const trace = bigTrace(spans);
	await postBigTrace(server.url, trace, TOKEN);
	const url = `${server.url}/ui/trace/${trace.traceId}`;
	await loadTimes(browser, url); // warm-up: compiles the Worker's paths and the page's script
	const open: { firstRowsMs: number; allSpansMs: number }[] = [];
	const openFloor: { firstFrameMs: number; lastFrameMs: number }[] = [];
	for (let i = 0; i < rounds; i++) {
		open.push(await loadTimes(browser, url));
		openFloor.push(await snapshotMs(server.url, trace.traceId));
	}
	const head = await fetch(`${server.url}/v1/traces/${trace.traceId}`, { method: "HEAD", headers: { authorization: `Bearer ${TOKEN}` } });
	if (head.headers.get("x-trace-status") !== "partial") console.error("note: the trace was no longer open during the open-trace rounds");
	// Finalized: read from R2 by the object for the snapshot.
	for (let waited = 0; waited < QUIET_MS + 60_000; waited += 500) {
		const h = await fetch(`${server.url}/v1/traces/${trace.traceId}`, { method: "HEAD", headers: { authorization: `Bearer ${TOKEN}` } });
		if (h.headers.get("x-trace-status") === "complete") break;
		await new Promise((r) => setTimeout(r, 500));
	}
	const complete: typeof open = [];
	const completeFloor: typeof openFloor = [];
	for (let i = 0; i < rounds; i++) {
		complete.push(await loadTimes(browser, url));
		completeFloor.push(await snapshotMs(server.url, trace.traceId));
	}
	const scroll = await scrollFrames(browser, url);

	const ms = (n: number) => `${Math.round(n)} ms`;
	console.log(`| viewer, ${spans.toLocaleString("en")}-span trace (headless Chromium, median of ${rounds}) | figure |`);
	console.log("|---|---|");
	const floor = (xs: typeof openFloor) => `${ms(median(xs.map((r) => r.firstFrameMs)))} / ${ms(median(xs.map((r) => r.lastFrameMs)))}`;
	console.log(`| navigation → first span rows painted, trace open | ${ms(median(open.map((r) => r.firstRowsMs)))} |`);
	console.log(`| navigation → all ${spans.toLocaleString("en")} spans loaded, trace open | ${ms(median(open.map((r) => r.allSpansMs)))} |`);
	console.log(`| floor: the live snapshot to Node, first / last frame, trace open | ${floor(openFloor)} |`);
	console.log(`| navigation → first span rows painted, trace finalized (R2) | ${ms(median(complete.map((r) => r.firstRowsMs)))} |`);
	console.log(`| navigation → all spans loaded, trace finalized (R2) | ${ms(median(complete.map((r) => r.allSpansMs)))} |`);
	console.log(`| floor: the live snapshot to Node, first / last frame, trace finalized | ${floor(completeFloor)} |`);
	console.log(`| scrolling top to bottom, half a screen per frame: frame time p50 / p99 / max | ${scroll.frames.length} frames: ${quantile(scroll.frames, 0.5).toFixed(1)} / ${quantile(scroll.frames, 0.99).toFixed(1)} / ${Math.max(...scroll.frames).toFixed(1)} ms |`);
	console.log(`| span rows in the DOM at most while scrolling | ${scroll.rowsInDom} |`);
} finally {
	await browser.close();
	await server.stop();
}
