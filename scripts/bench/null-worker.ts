// The transport floor for `npm run bench`: a Worker in the same runtime that reads the whole
// request body and answers 200 with an empty export response, doing nothing else.
export default {
	async fetch(request) {
		await request.arrayBuffer();
		const json = (request.headers.get("content-type") ?? "").includes("json");
		return json ? new Response("{}", { headers: { "content-type": "application/json" } }) : new Response(new Uint8Array(0), { headers: { "content-type": "application/x-protobuf" } });
	},
} satisfies ExportedHandler;
