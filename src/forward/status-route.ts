// GET /api/status/forwarding (read scope): the caller's tenant's forwarding counters — per
// destination (those that take the tenant's traces) traces and spans sent, retried and
// dead-lettered, spans rejected in partial successes; per rule traces kept and dropped.
import { authenticate } from "../auth";
import { configFor } from "../config";
import type { Env } from "../env";
import { errorResponse } from "../http/respond";
import { destinationsFor } from "./config";
import { DEFAULT_RULE } from "./rules";
import { destinationCounter, readCounters, rejectedCounter, ruleCounter } from "./stats";

export async function handleForwardingStatus(request: Request, env: Env): Promise<Response> {
	try {
		const config = configFor(env);
		const { tenant } = await authenticate(request, config, "read");
		const counters = await readCounters(env, tenant);
		const n = (key: string) => counters[key] ?? 0;
		const pair = (name: string, what: "sent" | "retried" | "deadLettered") => ({ traces: n(destinationCounter(name, what, "traces")), spans: n(destinationCounter(name, what, "spans")) });
		const rules = [...config.forward.rules.map((r) => ({ name: r.name, when: r.when ?? null, sampleRate: r.sampleRate, drop: r.drop })), { name: DEFAULT_RULE, when: null, sampleRate: 1, drop: false }];
		return Response.json(
			{
				storeTraces: config.forward.storeTraces,
				destinations: destinationsFor(config.forward, tenant).map((d) => ({
					name: d.name,
					// The origin only: a path or query can carry a token some backends accept there.
					endpoint: new URL(d.endpoint).origin,
					sent: pair(d.name, "sent"),
					retried: pair(d.name, "retried"),
					deadLettered: pair(d.name, "deadLettered"),
					rejectedSpans: n(rejectedCounter(d.name)),
				})),
				rules: rules.map((r) => ({ ...r, kept: n(ruleCounter(r.name, true)), dropped: n(ruleCounter(r.name, false)) })),
			},
			{ headers: { "cache-control": "no-store" } },
		);
	} catch (e) {
		return errorResponse(e);
	}
}
