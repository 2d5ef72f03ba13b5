// Starts `wrangler dev` for scripts and end-to-end tests: free loopback ports, its own state
// directory, the whole process group stopped (or killed, to simulate a crash) on request.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

export interface DevServerOptions {
	/** Wrangler config files, in order (default: the repository's wrangler.toml). */
	configs?: string[];
	vars?: Record<string, string>;
	/** State directory; reuse it across restarts to keep Durable Objects and R2. */
	persistTo?: string;
	port?: number;
	/** The directory wrangler runs in (default: the repository's root); relative `configs` are read from it. */
	cwd?: string;
	/** Where wrangler's output goes (default: discarded unless DEV_SERVER_LOG=1). */
	onOutput?: (text: string) => void;
}

export interface DevServer {
	url: string;
	port: number;
	persistTo: string;
	/** The V8 inspector's WebSocket (Chrome DevTools protocol) of the server's Workers. */
	inspectorUrl: string;
	/** Resident memory of the server's workerd processes, in bytes (Linux). */
	workerdRss(): number;
	/** SIGTERM to the process group, then waits for it to exit. */
	stop(): Promise<void>;
	/** SIGKILL to the process group: a crash, with requests and alarms cut off mid-way. */
	crash(): Promise<void>;
}

const ROOT = resolve(import.meta.dirname, "../..");

export async function freePort(): Promise<number> {
	return new Promise((resolvePort, reject) => {
		const server = createServer();
		server.once("error", reject);
		server.listen(0, "127.0.0.1", () => {
			const address = server.address();
			server.close(() => resolvePort(typeof address === "object" && address ? address.port : 0));
		});
	});
}

/**
 * A port found free can be taken by another process before wrangler binds it (several test files
 * start servers at once): when wrangler says so, start again on fresh ports.
 */
export async function startDevServer(options: DevServerOptions = {}): Promise<DevServer> {
	for (let attempt = 1; ; attempt++) {
		try {
			return await startOnce(options);
		} catch (e) {
			if (attempt >= 3 || !/Address already in use/.test(String(e))) throw e;
		}
	}
}

async function startOnce(options: DevServerOptions): Promise<DevServer> {
	const port = options.port ?? (await freePort());
	const inspectorPort = await freePort();
	const persistTo = options.persistTo ?? mkdtempSync(join(tmpdir(), "trace-assembler-"));
	const configs = options.configs ?? [join(ROOT, "wrangler.toml")];
	const args = [
		"dev",
		...configs.flatMap((config) => ["-c", config]),
		"--port", String(port),
		"--ip", "127.0.0.1",
		"--inspector-port", String(inspectorPort),
		"--persist-to", persistTo,
		"--log-level", "warn",
		...Object.entries(options.vars ?? {}).flatMap(([name, value]) => ["--var", `${name}:${value}`]),
	];
	const child = spawn(join(ROOT, "node_modules/.bin/wrangler"), args, {
		cwd: options.cwd ?? ROOT,
		detached: true,
		stdio: ["ignore", "pipe", "pipe"],
		env: { ...process.env, WRANGLER_SEND_METRICS: "false", CI: "true", NO_COLOR: "1" },
	});
	const output: string[] = [];
	const sink = (chunk: Buffer) => {
		const text = chunk.toString();
		output.push(text);
		if (output.length > 200) output.shift();
		options.onOutput?.(text);
		if (process.env.DEV_SERVER_LOG) process.stderr.write(text);
	};
	child.stdout!.on("data", sink);
	child.stderr!.on("data", sink);
	const exited = new Promise<void>((done) => child.once("exit", () => done()));
	const url = `http://127.0.0.1:${port}`;
	await waitUntilServing(url, child, output);
	const signal = async (name: NodeJS.Signals) => {
		try {
			process.kill(-child.pid!, name);
		} catch {
			// Already gone.
		}
		await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
	};
	return { url, port, persistTo, inspectorUrl: `ws://127.0.0.1:${inspectorPort}/ws`, workerdRss: () => workerdRss(child.pid!), stop: () => signal("SIGTERM"), crash: () => signal("SIGKILL") };
}

async function waitUntilServing(url: string, child: ChildProcess, output: string[]): Promise<void> {
	const deadline = Date.now() + 90_000;
	while (Date.now() < deadline) {
		if (child.exitCode !== null) throw new Error(`wrangler dev exited (${child.exitCode}):\n${output.join("")}`);
		try {
			await fetch(url, { signal: AbortSignal.timeout(2_000) });
			return;
		} catch {
			await new Promise((r) => setTimeout(r, 250));
		}
	}
	try {
		process.kill(-child.pid!, "SIGKILL");
	} catch {
		// Already gone.
	}
	throw new Error(`wrangler dev did not start within 90 s:\n${output.join("")}`);
}

/** Sum of VmRSS over the workerd processes in the process group `group`. */
function workerdRss(group: number): number {
	let total = 0;
	for (const entry of readdirSync("/proc")) {
		if (!/^\d+$/.test(entry)) continue;
		try {
			const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
			// Fields after the command name (which may hold spaces) start at its closing parenthesis.
			const name = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
			const pgrp = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[2]);
			if (pgrp !== group || !name.startsWith("workerd")) continue;
			const rss = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${entry}/status`, "utf8"));
			if (rss) total += Number(rss[1]) * 1024;
		} catch {
			// The process ended while we looked.
		}
	}
	return total;
}
