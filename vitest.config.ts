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
						// Per-trace limits are lowered so test/limits.test.ts can reach them quickly.
						miniflare: {
							bindings: {
								AUTH_TOKENS: "test-token,acme-token=acme,globex-token=globex,reader-token=acme:read,writer-token=acme:ingest",
								MAX_SPANS_PER_TRACE: "1000",
								MAX_TRACE_BYTES: "4194304",
								CORS_ORIGINS: "https://viewer.example",
								// test/fuzz.test.ts: cases per body kind and seed; FUZZ_CASES=20000 npm test for a long run.
								FUZZ_CASES: process.env.FUZZ_CASES ?? "400",
								FUZZ_SEED: process.env.FUZZ_SEED ?? "20261123",
							},
							// test/tail.test.ts: Workers that stream their real runtime events to the assembler's
							// tailStream (their streamingTails name is pointed at the Worker under test).
							serviceBindings: { TAIL_PRODUCER: "tail-producer", OTEL_SHOP: "otel-shop", OTEL_HONO: "otel-hono", OTEL_PLAIN: "otel-plain" },
							workers: [
								{
									name: "tail-producer",
									modules: true,
									scriptPath: "./test/tail-fixtures/producer.js",
									compatibilityDate: "2026-11-01",
									streamingTails: ["trace-assembler"],
									serviceBindings: { CART: "tail-callee" },
									durableObjects: { INVENTORY: { className: "Inventory", useSQLite: true } },
								},
								{ name: "tail-callee", modules: true, scriptPath: "./test/tail-fixtures/callee.js", compatibilityDate: "2026-11-01", streamingTails: ["trace-assembler"] },
								// test/otel.test.ts: a Worker instrumented only through @opentelemetry/api (bundled by
								// test/otel-fixtures/build.ts, the project's globalSetup). Its outgoing HTTP fetches
								// reach a second Worker of the same code (outboundService), as an HTTP call would.
								{
									name: "otel-shop",
									modules: true,
									scriptPath: "./test/otel-fixtures/dist/shop.js",
									compatibilityDate: "2026-11-01",
									compatibilityFlags: ["nodejs_compat"],
									streamingTails: ["trace-assembler"],
									bindings: { PAYMENTS_URL: "http://payments.example" },
									outboundService: "otel-payments",
									durableObjects: { LEDGER: { className: "Ledger", useSQLite: true } },
								},
								{ name: "otel-payments", modules: true, scriptPath: "./test/otel-fixtures/dist/shop.js", compatibilityDate: "2026-11-01", compatibilityFlags: ["nodejs_compat"], streamingTails: ["trace-assembler"] },
								// A Hono app with @hono/otel's middleware (without nodejs_compat: the bridge needs none at
								// this compatibility date), and a Worker with no OTel setup using tracedFetch.
								{ name: "otel-hono", modules: true, scriptPath: "./test/otel-fixtures/dist/hono.js", compatibilityDate: "2026-11-01", streamingTails: ["trace-assembler"] },
								{ name: "otel-plain", modules: true, scriptPath: "./test/otel-fixtures/dist/plain.js", compatibilityDate: "2026-11-01", streamingTails: ["trace-assembler"], outboundService: "otel-payments" },
							],
						},
					}),
				],
				test: { name: "workerd", include: ["test/**/*.test.ts"], exclude: ["test/e2e/**", "test/propagation/**", "test/forward/**", "test/index-load.test.ts", "test/index-expiry.test.ts"], globalSetup: ["./test/otel-fixtures/build.ts"] },
			},
			{
				// Forwarding (src/forward/) with sampling rules and a destination: the Worker's outbound
				// fetches (the queue consumer's OTLP requests) reach a receiver Worker that records them and
				// answers as scripted, and that consumes the dead-letter queue.
				plugins: [
					cloudflareTest({
						wrangler: { configPath: "./wrangler.toml" },
						miniflare: {
							bindings: {
								AUTH_TOKENS: "test-token,acme-token=acme",
								SAMPLING_RULES: JSON.stringify([
									{ name: "errors", when: "{ status = error }", sampleRate: 1 },
									{ name: "health", when: '{ span.http.route = "/health" }', drop: true },
									{ name: "checkout", when: '{ span.http.route = "/checkout" }', sampleRate: 1 },
									{ name: "rest", sampleRate: 4 },
								]),
								FORWARD_DESTINATIONS: JSON.stringify([{ name: "receiver", endpoint: "http://receiver.test/v1/traces", encoding: "json", headersSecret: "RECEIVER_HEADERS" }]),
								RECEIVER_HEADERS: "x-api-key=secret%2Cwith-comma",
								FORWARD_MAX_RETRY_DELAY_S: "1",
							},
							outboundService: "forward-receiver",
							serviceBindings: { RECEIVER: "forward-receiver" },
							workers: [
								{
									name: "forward-receiver",
									modules: true,
									scriptPath: "./test/forward-fixtures/receiver.js",
									compatibilityDate: "2026-11-01",
									queueConsumers: { "trace-assembler-forward-dlq": { maxBatchTimeout: 1 } },
								},
							],
						},
					}),
				],
				test: { name: "forward", include: ["test/forward/**/*.test.ts"], testTimeout: 60_000 },
			},
			// The search index at small scale (issue 17): windows of seconds and low budgets, so shard
			// growth, splits, retention and the bounded index retry happen within a test. Same Worker and
			// objects as "workerd"; only the variables differ (test/index-load.test.ts, test/index-expiry.test.ts).
			...(
				[
					{ name: "index-load", file: "test/index-load.test.ts", vars: { SEARCH_PARTITION_MS: "6000", SEARCH_SHARD_MAX_WRITES_PER_S: "5", QUIET_PERIOD_MS: "1000" } },
					{ name: "index-expiry", file: "test/index-expiry.test.ts", vars: { SEARCH_PARTITION_MS: "1000", INDEX_RETENTION_MS: "3000", INDEX_RETRY_MS: "2000", RETENTION_MS: "3000" } },
				] as { name: string; file: string; vars: Record<string, string> }[]
			).map(({ name, file, vars }) => ({
				plugins: [cloudflareTest({ wrangler: { configPath: "./wrangler.toml" }, miniflare: { bindings: { AUTH_TOKENS: "test-token,acme-token=acme,globex-token=globex", ...vars } } })],
				test: { name, include: [file] },
			})),
			{
				// src/propagation.ts across a real service binding and a real Durable Object call: a fixture
				// Worker that is the assembler plus two callees.
				plugins: [cloudflareTest({ wrangler: { configPath: "./test/propagation/wrangler.toml" } })],
				test: { name: "propagation", include: ["test/propagation/**/*.test.ts"] },
			},
			{
				// End to end: `wrangler dev` fed by the real OpenTelemetry JS SDK exporters.
				// test/e2e/viewer/: the web viewer in headless Chromium (scripts/lib/browser.ts). The setup
				// builds the viewer once, so the many `wrangler dev` builds that follow find it current.
				test: {
					name: "e2e",
					include: ["test/e2e/**/*.test.ts"],
					environment: "node",
					testTimeout: 120_000,
					hookTimeout: 120_000,
					globalSetup: ["test/e2e/build-viewer.setup.ts"],
				},
			},
		],
	},
});
