// Builds the web viewer (src/ui/) into dist/viewer/, the Worker's static assets directory
// (wrangler.toml [assets]). Run by wrangler's [build] command (npm start, wrangler dev, wrangler
// deploy) and by the test setup; prints the gzipped size of what a browser downloads.
// Usage: node scripts/build-ui.ts [--quiet]
import { build } from "esbuild";
import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { gzipSync } from "node:zlib";

const ROOT = resolve(import.meta.dirname, "..");
const UI = join(ROOT, "src/ui");
const VIEWER_DIR = join(ROOT, "dist/viewer");
/** The budget for scripts and styles together, gzipped. */
const BUDGET_GZIP_BYTES = 150 * 1024;

export async function buildViewer(options: { quiet?: boolean } = {}): Promise<{ gzipBytes: number }> {
	const result = await build({
		entryPoints: { app: join(UI, "main.tsx") },
		bundle: true,
		format: "esm",
		target: "es2022",
		minify: true,
		sourcemap: false,
		jsx: "automatic",
		jsxImportSource: "preact",
		// The viewer's own stylesheet is imported by main.tsx and lands beside app.js.
		outdir: "ui",
		write: false,
		logLevel: "warning",
		legalComments: "none",
		tsconfig: join(UI, "tsconfig.json"),
	});
	const files = new Map<string, Uint8Array>();
	for (const file of result.outputFiles) files.set(join("ui", file.path.slice(file.path.lastIndexOf("/") + 1)), file.contents);
	// index.html sits at the assets root: the single-page-application fallback serves it for every
	// /ui/... path that is not a file (deep links such as /ui/trace/<id>).
	files.set("index.html", readFileSync(join(UI, "index.html")));
	// The viewer's security headers (CSP, nosniff, no referrer, no framing), applied by the assets server.
	files.set("_headers", readFileSync(join(UI, "_headers")));
	let gzipBytes = 0;
	for (const [name, contents] of files) {
		if (/\.(js|css)$/.test(name)) gzipBytes += gzipSync(contents, { level: 9 }).length;
		writeIfChanged(join(VIEWER_DIR, name), contents);
	}
	if (!options.quiet) {
		const list = [...files].map(([name, c]) => `${name} ${(c.length / 1024).toFixed(1)} KB`).join(", ");
		console.log(`viewer: ${list}; scripts + styles ${(gzipBytes / 1024).toFixed(1)} KB gzipped (budget ${BUDGET_GZIP_BYTES / 1024} KB)`);
	}
	if (gzipBytes > BUDGET_GZIP_BYTES) throw new Error(`the viewer's scripts and styles are ${gzipBytes} bytes gzipped, over the ${BUDGET_GZIP_BYTES}-byte budget`);
	return { gzipBytes };
}

/**
 * Several `wrangler dev` processes (the end-to-end tests start many) run this build at once over
 * the same directory: each file is replaced atomically by a rename, and left alone when it is
 * unchanged so that wrangler's asset watcher does not reload for nothing.
 */
function writeIfChanged(path: string, contents: Uint8Array): void {
	try {
		if (Buffer.compare(readFileSync(path), contents) === 0) return;
	} catch {
		// Not there yet.
	}
	mkdirSync(dirname(path), { recursive: true });
	const temporary = `${path}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
	writeFileSync(temporary, contents);
	renameSync(temporary, path);
}

if (import.meta.main) {
	await buildViewer({ quiet: process.argv.includes("--quiet") });
}
