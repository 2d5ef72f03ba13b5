// Command-line options of the scripts: `--name value` pairs and bare `--name` switches.
const args = process.argv.slice(2);

/** The value after `--name`, or `fallback`. */
export function option(name: string, fallback: string): string;
export function option(name: string): string | undefined;
export function option(name: string, fallback?: string): string | undefined {
	const i = args.indexOf(`--${name}`);
	return i >= 0 && args[i + 1] !== undefined ? args[i + 1] : fallback;
}

/** Whether the bare switch `--name` was given. */
export function hasFlag(name: string): boolean {
	return args.includes(`--${name}`);
}

/** Arguments that are neither options nor their values. */
export function positional(valueOptions: readonly string[]): string[] {
	return args.filter((a, i) => !a.startsWith("--") && !valueOptions.includes(args[i - 1]?.replace(/^--/, "") ?? ""));
}
