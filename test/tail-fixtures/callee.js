// The service-binding callee of producer.js; its invocations stream to the assembler too.
export default {
	async fetch() {
		await scheduler.wait(2);
		return new Response("3 items");
	},
};
