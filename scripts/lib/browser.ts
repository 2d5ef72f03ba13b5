// Headless Chromium for the viewer's tests, screenshot and benchmark: the system's own browser
// (Debian's `chromium` package; .ci/run installs it), driven by playwright-core. Never downloads one.
import { existsSync } from "node:fs";
import { chromium, type Browser } from "playwright-core";

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

export async function launchChromium(): Promise<Browser> {
	if (!existsSync(CHROMIUM_PATH)) throw new Error(`no Chromium at ${CHROMIUM_PATH}: apt-get install -y chromium (or set CHROMIUM_PATH)`);
	return chromium.launch({
		executablePath: CHROMIUM_PATH,
		headless: true,
		args: ["--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
	});
}
