// A module resolve hook so Node (with type stripping) can import the project's sources, which,
// like the generated code in src/gen/, import each other without the `.ts` extension that
// wrangler's bundler does not need. Register it before importing anything from src/.
import { registerHooks } from "node:module";

registerHooks({
	resolve(specifier, context, nextResolve) {
		try {
			return nextResolve(specifier, context);
		} catch (error) {
			if (!specifier.startsWith(".")) throw error;
			return nextResolve(`${specifier}.ts`, context);
		}
	},
});
