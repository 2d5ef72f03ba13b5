import { cloudflareTest } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";

export default defineConfig({
	test: {
		projects: [
			{
				// Unit and integration tests inside workerd, with real Durable Objects and R2.
				plugins: [
					cloudflareTest({
						wrangler: { configPath: "./wrangler.toml" },
						// Tokens the tests authenticate with (test/helpers.ts): the default tenant, two
						// tenants, and read-only / ingest-only scopes.
						miniflare: { bindings: { AUTH_TOKENS: "test-token,acme-token=acme,globex-token=globex,reader-token=acme:read,writer-token=acme:ingest" } },
					}),
				],
				test: { name: "workerd", include: ["test/**/*.test.ts"], exclude: ["test/e2e/**"] },
			},
			{
				// End to end: `wrangler dev` fed by the real OpenTelemetry JS SDK exporters.
				test: { name: "e2e", include: ["test/e2e/**/*.test.ts"], environment: "node", testTimeout: 120_000, hookTimeout: 120_000 },
			},
		],
	},
});
