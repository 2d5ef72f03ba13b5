// A Worker traced by nothing but the runtime, for test/tail.test.ts: vitest.config.ts runs it
// next to the assembler with `streamingTails: ["trace-assembler"]`, so workerd streams its real
// events to the assembler's tailStream. Plain JavaScript: Miniflare loads auxiliary Workers as
// they are, without a build step.
import { DurableObject } from "cloudflare:workers";

export class Inventory extends DurableObject {
	async fetch(request) {
		const reserved = ((await this.ctx.storage.get("reserved")) ?? 0) + 1;
		await this.ctx.storage.put("reserved", reserved);
		if (new URL(request.url).searchParams.has("sold-out")) throw new RangeError("sku-1 is sold out");
		return new Response(String(reserved));
	}
}

export default {
	async fetch(request, env) {
		console.log("checkout", { sku: "sku-1" });
		const cart = await env.CART.fetch("https://cart/items");
		let reserved;
		try {
			const response = await env.INVENTORY.getByName("sku-1").fetch(`https://inventory/reserve${new URL(request.url).search}`);
			reserved = await response.text();
		} catch (e) {
			console.warn("reservation failed:", e.message);
			return new Response("sold out", { status: 503 });
		}
		return new Response(`checked out ${await cart.text()}, reservation ${reserved}`);
	},
};
