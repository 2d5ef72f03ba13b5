// The README's local tail-consumer setup, exactly as written: `wrangler dev -c producer.toml -c
// path/to/assembler/wrangler.toml`, run from the producer's own directory with the repository's
// own wrangler.toml. Regression: its [build] command ran `node scripts/build-ui.ts` in the
// caller's directory and wrangler exited before serving anything.
import { afterAll, describe, expect, it } from "vitest";
import { relative, resolve } from "node:path";
import { startDevServer, type DevServer } from "../../scripts/lib/dev-server.ts";

const PRODUCER_DIR = resolve(import.meta.dirname, "fixtures/tail");
const ASSEMBLER_CONFIG = relative(PRODUCER_DIR, resolve(import.meta.dirname, "../../wrangler.toml"));
let server: DevServer | undefined;

afterAll(async () => {
	await server?.stop();
});

describe("the README's local setup", () => {
	it("starts from the producer's directory with the assembler's own wrangler.toml, and the assembler answers", async () => {
		server = await startDevServer({ cwd: PRODUCER_DIR, configs: ["producer.toml", "callee.toml", ASSEMBLER_CONFIG] });
		// The producer passes /v1/* to the assembler; the repository's config has no token and no
		// anonymous access, so the assembler's own 401 proves it runs.
		const res = await fetch(`${server.url}/v1/traces/${"ab".repeat(16)}`);
		expect(res.status).toBe(401);
		expect(((await res.json()) as { message: string }).message).toMatch(/no AUTH_TOKENS secret/);
	});
});
