// The assembler with R2 made to fail inside a time window, for scripts/soak.ts only. It wraps the
// real Worker and Durable Object class, so the code under test is exactly the production code;
// only the R2 binding they see is replaced.
import worker, { TraceAssembler as RealTraceAssembler } from "../../src/index";
import type { Env } from "../../src/env";

interface ChaosEnv extends Env {
	/** R2 calls fail from this time (ms since epoch) ... */
	CHAOS_R2_FAIL_FROM_MS?: string;
	/** ... until this time. */
	CHAOS_R2_FAIL_UNTIL_MS?: string;
}

function failing(env: ChaosEnv): R2Bucket {
	const from = Number(env.CHAOS_R2_FAIL_FROM_MS ?? 0);
	const until = Number(env.CHAOS_R2_FAIL_UNTIL_MS ?? 0);
	const bucket = env.TRACES;
	const guard = <A extends unknown[], R>(call: (...args: A) => Promise<R>) =>
		async (...args: A): Promise<R> => {
			const now = Date.now();
			if (now >= from && now < until) throw new Error("chaos: injected R2 outage");
			return call(...args);
		};
	return Object.assign(Object.create(bucket) as R2Bucket, {
		get: guard(bucket.get.bind(bucket)),
		put: guard(bucket.put.bind(bucket)),
		head: guard(bucket.head.bind(bucket)),
	});
}

export class TraceAssembler extends RealTraceAssembler {
	constructor(ctx: DurableObjectState, env: ChaosEnv) {
		super(ctx, { ...env, TRACES: failing(env) });
	}
}

export { SearchPartition, IndexDirectory, IngestRelay } from "../../src/index";
export default worker;
