import type { ConfigEnv } from "./config";
import type * as self from "./env";
import type { TraceAssembler } from "./assembler/trace-object";
import type { SearchPartition } from "./search/partition";
import type { IngestRelay } from "./ingest/relay";

/** The Worker's bindings (wrangler.toml) and variables (config.ts). */
export interface Env extends ConfigEnv {
	TRACE_ASSEMBLER: DurableObjectNamespace<TraceAssembler>;
	TRACES: R2Bucket;
	/** The search index: one object per tenant, hour and shard (src/search/partitions.ts). */
	SEARCH_PARTITION: DurableObjectNamespace<SearchPartition>;
	/** Stateless helpers that store the parts of export requests with more traces than MAX_SUBREQUESTS (src/ingest/relay.ts). */
	INGEST_RELAY: DurableObjectNamespace<IngestRelay>;
	/** "true" counts billed units in memory and serves them at GET /debug/usage (src/metering/usage.ts). */
	COUNT_USAGE?: string;
}

declare global {
	namespace Cloudflare {
		// Types `env` from "cloudflare:workers" and the test helpers with the same bindings.
		interface Env extends self.Env {}
	}
}
