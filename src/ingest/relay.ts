// An ingest relay: a Durable Object that holds nothing and stores no row, given one group of an
// export request's trace parts when the request has more traces than one invocation may call
// (MAX_SUBREQUESTS). Each call to it is an invocation with a subrequest budget of its own; it
// calls the group's trace objects (or relays again) and answers what became of them. A fresh
// object per group (a unique id), so relays never queue behind each other and follow load; an
// idle one costs nothing, since it has no storage.
import { DurableObject } from "cloudflare:workers";
import type { Env } from "../env";
import { countUsage, enableUsageCounting } from "../metering/usage";
import { deliverParts, type DeliveryLimits, type DeliveryOutcome, type TracePart } from "./fan-out";

export class IngestRelay extends DurableObject<Env> {
	constructor(ctx: DurableObjectState, env: Env) {
		super(ctx, env);
		enableUsageCounting(env);
	}

	/** Stores each part in its trace's object; resolves when every one is stored or has failed. */
	async deliver(tenant: string, parts: TracePart[], limits: DeliveryLimits, depth: number): Promise<DeliveryOutcome> {
		countUsage("objectCalls");
		try {
			return await deliverParts(this.env, tenant, parts, limits, depth);
		} catch (e) {
			console.error(`IngestRelay: ${parts.length} trace parts of tenant ${JSON.stringify(tenant)} not delivered:`, e);
			return { rejected: 0, rejectReasons: [], failed: parts.length, overloaded: 0, firstFailure: e instanceof Error ? e.message : String(e) };
		}
	}
}
