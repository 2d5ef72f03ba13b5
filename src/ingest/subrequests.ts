// The subrequests one invocation may make. Workers count every call out of an invocation (an RPC
// call to a Durable Object, a service binding, a fetch) against a per-invocation limit: 50 on
// Workers Free, 10,000 on Paid (1,000 on older pages; /workers/platform/limits/). Past it the
// runtime throws, so the ingest paths plan their calls against MAX_SUBREQUESTS beforehand and
// spend from this budget; spending past it is a planning bug, raised rather than hidden.
import { noteSubrequests } from "../metering/usage";

export class SubrequestBudget {
	readonly limit: number;
	#used = 0;

	constructor(limit: number) {
		this.limit = limit;
	}

	get used(): number {
		return this.#used;
	}

	get left(): number {
		return this.limit - this.#used;
	}

	/** One call out of this invocation; throws rather than let the platform fail it later. */
	spend(): void {
		if (this.#used >= this.limit) throw new Error(`subrequest budget of ${this.limit} exceeded (a planning bug)`);
		this.#used++;
		noteSubrequests(this.#used);
	}
}
