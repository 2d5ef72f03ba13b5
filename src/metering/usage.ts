// What the Worker and its objects spend, in the units Cloudflare bills (rows written and read,
// alarms set, Durable Object requests, R2 operations, Worker requests), counted in this isolate's
// memory. Off unless COUNT_USAGE is "true": then every counting call is one boolean test, and no
// cursor is inspected. `npm run bench -- --cost` turns it on under `wrangler dev`, where the Worker
// and every object share one isolate, and reads the totals through GET /debug/usage.
//
// Any object class adds its own spending here: run SQL through `execCounted` / `selectCounted`,
// set alarms with `setAlarmCounted`, and call `countUsage` for requests and R2 operations.

export interface UsageCounts {
	/** SqlStorageCursor.rowsWritten summed over every statement. */
	rowsWritten: number;
	/** SqlStorageCursor.rowsRead summed over every statement. */
	rowsRead: number;
	/** setAlarm() calls: Cloudflare bills each as one row written. */
	alarmsSet: number;
	/** deleteAll() calls: no cursor says what they count (README, "Storage and lifecycle"). */
	deleteAlls: number;
	/** RPC method calls and fetches that reached an object. */
	objectCalls: number;
	/** Alarm handler runs (each is a billed Durable Object request). */
	alarmsRun: number;
	/** R2 PUTs (and other Class A operations). */
	r2ClassA: number;
	/** R2 GETs and HEADs (Class B). */
	r2ClassB: number;
	/** Requests that reached the Worker's fetch handler (debug routes excluded). */
	workerRequests: number;
	/** Queues operations (each 64 KB written, read or deleted), counted by src/forward/. */
	queueOperations: number;
	/** Queue consumer invocations (each a billed Worker request). */
	queueBatches: number;
	/** The most subrequests one invocation made (router, ingest relay, tail consumer): MAX_SUBREQUESTS bounds it. */
	maxSubrequestsPerInvocation: number;
	/** Ingest relay calls: the parts of export requests with more traces than one invocation may call (src/ingest/fan-out.ts). */
	ingestRelays: number;
	/** Trace writes to R2 given up after a permanent (4xx) error (src/assembler/finalize.ts); not a billed unit, a loss to watch. */
	r2WritesGivenUp: number;
}

export type UsageKind = keyof UsageCounts;

const counts: UsageCounts = zero();
let enabled = false;

function zero(): UsageCounts {
	return { rowsWritten: 0, rowsRead: 0, alarmsSet: 0, deleteAlls: 0, objectCalls: 0, alarmsRun: 0, r2ClassA: 0, r2ClassB: 0, workerRequests: 0, queueOperations: 0, queueBatches: 0, maxSubrequestsPerInvocation: 0, ingestRelays: 0, r2WritesGivenUp: 0 };
}

/** Turns counting on for this isolate when the environment says COUNT_USAGE=true (it stays on). */
export function enableUsageCounting(env: { COUNT_USAGE?: string | boolean }): void {
	if (env.COUNT_USAGE === true || env.COUNT_USAGE === "true") enabled = true;
}

export function usageCountingEnabled(): boolean {
	return enabled;
}

export function countUsage(kind: UsageKind, n = 1): void {
	if (enabled) counts[kind] += n;
}

/** An invocation has made `used` subrequests so far: keeps the largest such count. */
export function noteSubrequests(used: number): void {
	if (enabled && used > counts.maxSubrequestsPerInvocation) counts.maxSubrequestsPerInvocation = used;
}

/** Starts the totals again from zero (a test or a bench measuring one run). */
export function resetUsage(): void {
	Object.assign(counts, zero());
}

/** The totals since this isolate started. */
export function usageSnapshot(): UsageCounts {
	return { ...counts };
}

/** Runs a statement that returns no rows (or whose rows the caller ignores) and counts it. */
export function execCounted(sql: SqlStorage, query: string, ...bindings: unknown[]): void {
	const cursor = sql.exec(query, ...bindings);
	if (!enabled) return;
	// A cursor counts rows as it is stepped: drain it so the count is whole.
	for (const _ of cursor);
	counts.rowsWritten += cursor.rowsWritten;
	counts.rowsRead += cursor.rowsRead;
}

/** Runs a query, reads all its rows and counts it. */
export function selectCounted<T extends Record<string, SqlStorageValue>>(sql: SqlStorage, query: string, ...bindings: unknown[]): T[] {
	const cursor = sql.exec<T>(query, ...bindings);
	const rows = cursor.toArray();
	if (enabled) {
		counts.rowsWritten += cursor.rowsWritten;
		counts.rowsRead += cursor.rowsRead;
	}
	return rows;
}

export function setAlarmCounted(storage: DurableObjectStorage, at: number): Promise<void> {
	countUsage("alarmsSet");
	return storage.setAlarm(at);
}
