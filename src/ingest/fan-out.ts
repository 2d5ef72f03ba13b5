// Delivering an export request's trace parts to their objects with at most MAX_SUBREQUESTS calls
// from any one invocation, whatever the number of traces. A request within the budget calls each
// trace's object itself. A larger one keeps what its budget allows and hands the rest, in groups,
// to ingest relays (src/ingest/relay.ts): Durable Objects that hold nothing, created fresh for
// each group (a unique id, so relays spread with load), each calling its group's objects from an
// invocation of its own, relaying again if its group is still too large. Every call is awaited:
// the export answers only when each part is stored in its trace's object or known to have failed,
// so "accepted" keeps its meaning and an exporter's retry of a failed request is safe (objects
// ignore spans they already hold).
import type { Env } from "../env";
import { countUsage } from "../metering/usage";
import { runLimited } from "../http/pool";
import { partCost, storePart } from "./store-part";
import { SubrequestBudget } from "./subrequests";

/** One trace's spans of the request, encoded as TracesData. */
export interface TracePart {
	traceId: string;
	batch: Uint8Array;
}

export interface DeliveryLimits {
	/** Calls one invocation may make (MAX_SUBREQUESTS). */
	maxSubrequests: number;
	/** Calls to trace objects in flight at once (INGEST_CONCURRENCY). */
	concurrency: number;
}

/** What became of the parts; plain data, so it crosses an RPC call back from a relay as it is. */
export interface DeliveryOutcome {
	/** Spans refused by their trace's limits (partial success). */
	rejected: number;
	/** Why, up to three reasons. */
	rejectReasons: string[];
	/** Trace parts not stored: their object (or the relay carrying them) failed. */
	failed: number;
	/** Of those, the ones whose object said it was overloaded. */
	overloaded: number;
	/** The first failure, for the log. */
	firstFailure?: string;
}

/** Relays hand on to relays only this deep; the plan needs 2 levels below 1,000,000 traces at MAX_SUBREQUESTS 1,000. */
const MAX_RELAY_DEPTH = 8;

export async function deliverParts(env: Env, tenant: string, parts: readonly TracePart[], limits: DeliveryLimits, depth = 0): Promise<DeliveryOutcome> {
	const budget = new SubrequestBudget(limits.maxSubrequests);
	const { local, groups } = planDelivery(
		parts.map((part) => ({ ...part, cost: partCost({ tenant, traceId: part.traceId }) })),
		budget.limit,
	);
	if (groups.length > 0 && depth >= MAX_RELAY_DEPTH) throw new Error(`ingest relays nested deeper than ${MAX_RELAY_DEPTH}`);
	const outcome: DeliveryOutcome = { rejected: 0, rejectReasons: [], failed: 0, overloaded: 0 };
	const relayed = groups.map(async (group) => {
		budget.spend();
		countUsage("ingestRelays");
		try {
			const relay = env.INGEST_RELAY.get(env.INGEST_RELAY.newUniqueId());
			const result = await relay.deliver(tenant, group.map(({ traceId, batch }) => ({ traceId, batch })), limits, depth + 1);
			absorb(outcome, result);
		} catch (e) {
			fail(outcome, group.length, e);
		}
	});
	const stored = runLimited(local, limits.concurrency, async (part) => {
		try {
			const result = await storePart(env, { tenant, traceId: part.traceId }, part.batch, budget, part.cost);
			if (result.rejected > 0) absorb(outcome, { rejected: result.rejected, rejectReasons: result.rejectReason ? [result.rejectReason] : [], failed: 0, overloaded: 0 });
		} catch (e) {
			fail(outcome, 1, e);
		}
	});
	await Promise.all([...relayed, stored]);
	return outcome;
}

/**
 * Which parts this invocation stores itself and which go to relays, in groups: the relays' calls
 * plus the parts kept here cost at most `limit`. `cost` is each part's subrequests (partCost).
 */
export function planDelivery<T extends { cost: number }>(parts: readonly T[], limit: number): { local: T[]; groups: T[][] } {
	let total = 0;
	for (const part of parts) total += part.cost;
	if (total <= limit) return { local: [...parts], groups: [] };
	// The fewest relays that cover the rest when each takes a full budget and this invocation keeps
	// what is left of its own; at most `limit` of them (each relay then relays again).
	const relays = Math.min(limit, Math.max(1, Math.ceil((total - limit) / (limit - 1))));
	let room = limit - relays;
	const local: T[] = [];
	const rest: T[] = [];
	for (const part of parts) {
		if (part.cost <= room) {
			local.push(part);
			room -= part.cost;
		} else rest.push(part);
	}
	let restCost = total;
	for (const part of local) restCost -= part.cost;
	const groups: T[][] = [];
	let groupsLeft = Math.min(relays, rest.length);
	let group: T[] = [];
	let groupCost = 0;
	let target = Math.ceil(restCost / groupsLeft);
	for (const part of rest) {
		group.push(part);
		groupCost += part.cost;
		if (groupCost >= target && groupsLeft > 1) {
			groups.push(group);
			restCost -= groupCost;
			groupsLeft--;
			target = Math.ceil(restCost / groupsLeft);
			group = [];
			groupCost = 0;
		}
	}
	if (group.length > 0) groups.push(group);
	return { local, groups };
}

function absorb(into: DeliveryOutcome, from: DeliveryOutcome): void {
	into.rejected += from.rejected;
	for (const reason of from.rejectReasons) if (into.rejectReasons.length < 3) into.rejectReasons.push(reason);
	into.failed += from.failed;
	into.overloaded += from.overloaded;
	into.firstFailure ??= from.firstFailure;
}

function fail(into: DeliveryOutcome, parts: number, error: unknown): void {
	// The platform marks a Durable Object that sheds load: `overloaded` on the thrown error.
	if ((error as { overloaded?: boolean })?.overloaded) into.overloaded += parts;
	into.failed += parts;
	into.firstFailure ??= error instanceof Error ? error.message : String(error);
}
