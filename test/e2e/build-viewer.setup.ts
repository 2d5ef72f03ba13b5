// vitest globalSetup of the end-to-end project: the viewer's assets (dist/viewer/) built once
// before any `wrangler dev` starts (each also runs the build, which then changes nothing).
import { buildViewer } from "../../scripts/build-ui.ts";

export default async function setup(): Promise<void> {
	await buildViewer({ quiet: true });
}
