// vitest globalSetup: bundles the OpenTelemetry fixture Workers (TypeScript importing
// @opentelemetry/api and src/otel) into the plain JavaScript Miniflare's auxiliary Workers load.
import { build } from "esbuild";
import { resolve } from "node:path";

export const OTEL_FIXTURE_DIR = resolve(import.meta.dirname, "dist");

export default async function setup(): Promise<void> {
	await build({
		entryPoints: ["shop.ts", "hono.ts", "plain.ts"].map((file) => resolve(import.meta.dirname, file)),
		outdir: OTEL_FIXTURE_DIR,
		bundle: true,
		format: "esm",
		platform: "neutral",
		target: "es2024",
		mainFields: ["module", "main"],
		conditions: ["workerd", "worker", "import"],
		external: ["cloudflare:*", "node:*"],
		logLevel: "warning",
	});
}
