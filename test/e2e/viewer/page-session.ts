// A browser page on the viewer with the checks every viewer test makes: every request stays on the
// server's origin, and the page logs no error (apart from failed loads a test expects, such as the
// 401 that opens the token prompt).
import type { Browser, BrowserContext, Page } from "playwright-core";
import { expect } from "vitest";

export const TOKEN_KEY = "trace-assembler.token";

export interface PageSession {
	page: Page;
	context: BrowserContext;
	/** Every URL the page requested, WebSockets included. */
	requests: string[];
	errors: string[];
	/** Asserts the origin and console rules; `allowed` are expected failed loads. */
	check(allowed?: RegExp[]): void;
	close(): Promise<void>;
}

export async function openSession(browser: Browser, origin: string, options: { token?: string } = {}): Promise<PageSession> {
	const context = await browser.newContext({ viewport: { width: 1400, height: 800 } });
	if (options.token) await context.addInitScript(([key, token]) => localStorage.setItem(key!, token!), [TOKEN_KEY, options.token]);
	// A Content-Security-Policy violation fails the test through the console rule below, even one
	// the browser would only report (Chromium also logs "Refused to ..." itself).
	await context.addInitScript({
		content: 'document.addEventListener("securitypolicyviolation", (e) => console.error(`CSP violation: ${e.violatedDirective} blocked ${e.blockedURI || "inline"} (${e.sourceFile}:${e.lineNumber})`));',
	});
	const page = await context.newPage();
	const requests: string[] = [];
	const errors: string[] = [];
	page.on("request", (r) => requests.push(r.url()));
	page.on("websocket", (ws) => requests.push(ws.url()));
	page.on("console", (m) => {
		if (m.type() === "error") errors.push(m.text());
	});
	page.on("pageerror", (e) => errors.push(`page error: ${e.message}`));
	const wsOrigin = origin.replace(/^http/, "ws");
	return {
		page,
		context,
		requests,
		errors,
		check(allowed = []) {
			expect(requests.length).toBeGreaterThan(0);
			const offsite = requests.filter((url) => !url.startsWith(`${origin}/`) && !url.startsWith(`${wsOrigin}/`) && !url.startsWith("data:"));
			expect(offsite, "requests that left the origin").toEqual([]);
			expect(errors.filter((e) => !allowed.some((re) => re.test(e))), "console errors").toEqual([]);
		},
		close: () => context.close(),
	};
}

/**
 * `data-span-id` → `data-depth` of the span rows in the DOM now. A span shown twice fails here: a
 * Map keyed by span id would hide the duplicate row, so the row count is compared first.
 */
export async function shownDepths(page: Page): Promise<Map<string, number>> {
	const pairs = await page.$$eval("[data-span-id]", (rows) => rows.map((r) => [r.getAttribute("data-span-id")!, Number(r.getAttribute("data-depth"))] as const));
	const depths = new Map(pairs);
	expect(pairs.length, `rows in the DOM (${pairs.length}) vs distinct spans (${depths.size}): a span is shown twice`).toBe(depths.size);
	return depths;
}

/** Depth of every span of an OTLP JSON trace, from its parent links (a missing parent makes a root). */
export function depthsOf(trace: { resourceSpans?: { scopeSpans?: { spans?: { spanId: string; parentSpanId?: string }[] }[] }[] }): Map<string, number> {
	const parents = new Map<string, string>();
	for (const rs of trace.resourceSpans ?? []) for (const ss of rs.scopeSpans ?? []) for (const s of ss.spans ?? []) parents.set(s.spanId, s.parentSpanId ?? "");
	const depth = (id: string): number => {
		const parent = parents.get(id);
		return parent && parents.has(parent) ? 1 + depth(parent) : 0;
	};
	return new Map([...parents.keys()].map((id) => [id, depth(id)]));
}
