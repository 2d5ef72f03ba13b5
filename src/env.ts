import type { ConfigEnv } from "./config";
import type * as self from "./env";
import type { TraceAssembler } from "./assembler/trace-object";
import type { SearchPartition } from "./search/partition";
import type { IndexDirectory } from "./search/directory";
import type { ForwardMessage, DeadLetter } from "./forward/message";
import type { ForwardStats } from "./forward/stats";
import type { IngestRelay } from "./ingest/relay";

/** The Worker's bindings (wrangler.toml) and variables (config.ts). */
export interface Env extends ConfigEnv {
	TRACE_ASSEMBLER: DurableObjectNamespace<TraceAssembler>;
	TRACES: R2Bucket;
	/** The search index: one object per tenant, time window and shard (src/search/partitions.ts). */
	SEARCH_PARTITION: DurableObjectNamespace<SearchPartition>;
	/** Each tenant's index directory: its windows' shard counts, its unindexed traces (src/search/directory.ts). */
	INDEX_DIRECTORY: DurableObjectNamespace<IndexDirectory>;
	/** Stateless helpers that store the parts of export requests with more traces than MAX_SUBREQUESTS (src/ingest/relay.ts). */
	INGEST_RELAY: DurableObjectNamespace<IngestRelay>;
	/** "true" counts billed units in memory and serves them at GET /debug/usage (src/metering/usage.ts). */
	COUNT_USAGE?: string;
	/** Forwarding (src/forward/): the queue kept traces travel on, its dead letters, and the counters. */
	FORWARD_QUEUE?: Queue<ForwardMessage>;
	FORWARD_DLQ?: Queue<DeadLetter>;
	FORWARD_STATS?: DurableObjectNamespace<ForwardStats>;
}

declare global {
	namespace Cloudflare {
		// Types `env` from "cloudflare:workers" and the test helpers with the same bindings.
		interface Env extends self.Env {}
	}
}
