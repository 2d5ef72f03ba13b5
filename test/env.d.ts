// Types `exports` from "cloudflare:workers" in tests with the Worker's own module.
declare namespace Cloudflare {
	interface GlobalProps {
		mainModule: typeof import("../src/index");
		durableNamespaces: "TraceAssembler" | "SearchPartition" | "ForwardStats" | "IndexDirectory";
	}
}
