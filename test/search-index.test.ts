// The search index with real trace objects, partitions and R2: open traces are listed within
// seconds of their first span, finalization replaces the entry, reopened traces update, merged
// children disappear into their parent, tenants are isolated, partitions roll over by hour, and
// each trace costs at most two index rows written.
import { describe, expect, it } from "vitest";
import { env, exports } from "cloudflare:workers";
import { evictDurableObject, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { BASE, finalizeNow, holdR2Puts, postTraces, protobufRequest, randomHex, stubFor, type SpanSpec } from "./helpers";
import { partitionOf } from "../src/search/shard-cache";
import { SearchPartition } from "../src/search/partition";

const PARTITION_MS = 3_600_000; // SEARCH_PARTITION_MS in wrangler.toml
const partitionFor = (tenant: string, traceId: string, atMs: number) => partitionOf(env, tenant, traceId, atMs, PARTITION_MS);

const MS = 1_000_000n;
const nowNs = () => BigInt(Date.now()) * MS;

interface SearchJson {
	traces?: {
		traceID: string;
		rootServiceName: string;
		rootTraceName?: string;
		startTimeUnixNano: string;
		durationMs?: number;
		spanSets: { spans: { spanID: string; name: string; attributes?: unknown[] }[]; matched: number }[];
		serviceStats?: Record<string, { spanCount?: number; errorCount?: number }>;
	}[];
}

async function search(q: string, params: Record<string, string> = {}, auth = "Bearer test-token"): Promise<SearchJson> {
	const url = new URL(`${BASE}/api/search`);
	url.searchParams.set("q", q);
	for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
	const response = await exports.default.fetch(new Request(url, { headers: { authorization: auth } }));
	const text = await response.text();
	if (response.status !== 200) throw new Error(`search ${q}: ${response.status} ${text}`);
	return JSON.parse(text) as SearchJson;
}

/** Polls a search until `found` holds (index writes after ingest are asynchronous by design). */
async function eventually(q: string, found: (result: SearchJson) => boolean, params: Record<string, string> = {}, auth?: string): Promise<SearchJson> {
	const deadline = Date.now() + 5_000;
	for (;;) {
		const result = await search(q, params, auth);
		if (found(result)) return result;
		if (Date.now() > deadline) throw new Error(`${q}: not found in time: ${JSON.stringify(result).slice(0, 500)}`);
		await new Promise((r) => setTimeout(r, 50));
	}
}

const ids = (result: SearchJson) => (result.traces ?? []).map((t) => t.traceID);

async function send(spans: SpanSpec[], token = "test-token"): Promise<void> {
	const response = await postTraces(protobufRequest(spans), { headers: { authorization: `Bearer ${token}` } });
	expect(response.status).toBe(200);
	await response.arrayBuffer();
}

function trace(service: string, extra: Partial<SpanSpec> = {}) {
	const traceId = randomHex(16);
	const rootId = randomHex(8);
	const start = nowNs() - 2_000n * MS;
	const spans: SpanSpec[] = [
		{ traceId, spanId: rootId, name: `GET /${service}`, service, kind: 2, startNs: start, endNs: start + 300n * MS, attributes: { "http.response.status_code": 200 }, ...extra },
		{ traceId, spanId: randomHex(8), parentSpanId: rootId, name: "query", service: `${service}-db`, kind: 3, startNs: start + 10n * MS, endNs: start + 50n * MS, attributes: { "db.system": "sqlite" } },
	];
	return { traceId, rootId, start, spans };
}

describe("search index", () => {
	it("lists an open trace within seconds of its first span, then the finalized trace once", async () => {
		const t = trace("open-svc");
		await send([t.spans[0]!]);
		// Open: listed by {} and matched on the spans that opened it, before any finalization.
		await eventually("{}", (r) => ids(r).includes(t.traceId), { limit: "100" });
		const open = await eventually('{resource.service.name="open-svc"}', (r) => ids(r).includes(t.traceId));
		expect(open.traces![0]).toMatchObject({ traceID: t.traceId, rootServiceName: "open-svc", rootTraceName: "GET /open-svc" });
		await send([t.spans[1]!]);
		await finalizeNow(t.traceId);
		// Finalized: the second batch's spans are searchable too, and the trace is listed once.
		const final = await eventually('{resource.service.name="open-svc-db" && span.db.system="sqlite"}', (r) => ids(r).includes(t.traceId));
		expect(final.traces!.filter((x) => x.traceID === t.traceId)).toHaveLength(1);
		const hit = final.traces!.find((x) => x.traceID === t.traceId)!;
		expect(hit.spanSets[0]!.matched).toBe(1);
		expect(hit.spanSets[0]!.spans[0]!.name).toBe("query");
		expect(hit.serviceStats).toEqual({ "open-svc": { spanCount: 1 }, "open-svc-db": { spanCount: 1 } });
		expect(hit.startTimeUnixNano).toBe(String(t.start));
		expect(hit.durationMs).toBe(300);
	});

	it("matches an open trace on spans that arrived after the batch that opened it, before finalization", async () => {
		const t = trace("open-first");
		await send([t.spans[0]!]);
		await eventually('{resource.service.name="open-first"}', (r) => ids(r).includes(t.traceId));
		await send([{ ...t.spans[1]!, service: "open-later", attributes: { "late.attr": "yes" } }]);
		// The index entry still holds the first batch only; the search asks the open trace's object.
		const result = await eventually('{resource.service.name="open-later" && span.late.attr="yes"}', (r) => ids(r).includes(t.traceId));
		expect(result.traces!.find((x) => x.traceID === t.traceId)!.spanSets[0]!.spans[0]!.name).toBe("query");
		const rows = await rowsFor(t.traceId, t.start);
		expect(rows.map((r) => r.state)).toEqual([0]);
	});

	it("writes at most two index rows per trace: one at the first span, one at finalization", async () => {
		// Every index write of the trace is seen, from before its first span (the old test measured
		// only the finalization write, so a write per batch would have passed).
		const written: { state: number }[] = [];
		const put = SearchPartition.prototype.put;
		const t = trace("rows-svc");
		SearchPartition.prototype.put = function (this: SearchPartition, rows, ...rest) {
			for (const row of rows) if (row.traceId === t.traceId) written.push({ state: row.state });
			return put.call(this, rows, ...rest);
		} as typeof put;
		try {
			const partition = env.SEARCH_PARTITION.getByName(await partitionFor("", t.traceId, Number(t.start / MS)));
			const before = (await partition.stats()).rowsWritten;
			await send([t.spans[0]!]);
			await eventually('{resource.service.name="rows-svc"}', (r) => ids(r).includes(t.traceId));
			expect(written).toHaveLength(1);
			const afterFirst = (await partition.stats()).rowsWritten;
			expect(afterFirst).toBeGreaterThan(before);
			await send([t.spans[1]!]);
			await send([{ ...t.spans[1]!, spanId: randomHex(8) }]);
			// The batches after the first write nothing to the index.
			expect((await partition.stats()).rowsWritten).toBe(afterFirst);
			await finalizeNow(t.traceId);
			await eventually('{resource.service.name="rows-svc-db"}', (r) => ids(r).includes(t.traceId));
			// Finalization wrote one row, replacing the open one: two writes in the trace's life, in all.
			expect((await partition.stats()).rowsWritten - afterFirst).toBe(1);
			// Index writes run after the reply: give any late one time to land before counting.
			await scheduler.wait(1_000);
			expect(written.map((w) => w.state)).toEqual([0, 1]);
			expect((await rowsFor(t.traceId, t.start)).map((r) => r.state)).toEqual([1]);
		} finally {
			SearchPartition.prototype.put = put;
		}
	});

	it("updates a reopened trace at its next finalization, listing it once", async () => {
		const t = trace("reopen-svc");
		await send(t.spans);
		await finalizeNow(t.traceId);
		await eventually('{resource.service.name="reopen-svc"}', (r) => ids(r).includes(t.traceId));
		const late: SpanSpec = { traceId: t.traceId, spanId: randomHex(8), parentSpanId: t.rootId, name: "late", service: "reopen-late", startNs: t.start + 100n * MS, endNs: t.start + 200n * MS, statusCode: 2 };
		await send([late]);
		expect((await search('{resource.service.name="reopen-late"}')).traces ?? []).toHaveLength(0);
		await new Promise((r) => setTimeout(r, 1_100)); // MIN_REWRITE_INTERVAL_MS
		await finalizeNow(t.traceId);
		const result = await eventually('{resource.service.name="reopen-late" && status=error}', (r) => ids(r).includes(t.traceId));
		expect(result.traces!.find((x) => x.traceID === t.traceId)!.serviceStats!["reopen-late"]).toEqual({ spanCount: 1, errorCount: 1 });
		expect(ids(await search('{resource.service.name=~"reopen-.*"}')).filter((id) => id === t.traceId)).toHaveLength(1);
	});

	it("never lists a merged child on its own; its spans are found under the parent", async () => {
		const parent = trace("merge-parent");
		await send(parent.spans);
		const childId = randomHex(16);
		const child: SpanSpec = {
			traceId: childId,
			spanId: randomHex(8),
			name: "child-root",
			service: "merge-child",
			startNs: parent.start + 20n * MS,
			endNs: parent.start + 40n * MS,
			attributes: { "http.request.header.traceparent": [`00-${parent.traceId}-${parent.rootId}-01`] },
		};
		await send([child]);
		await finalizeNow(parent.traceId);
		const result = await eventually('{resource.service.name="merge-child"}', (r) => ids(r).includes(parent.traceId));
		expect(ids(result)).not.toContain(childId);
		const all = await search("{}", { limit: "1000" });
		expect(ids(all)).not.toContain(childId);
		expect(ids(all).filter((id) => id === parent.traceId)).toHaveLength(1);
	});

	it("keeps tenants apart: traces, tag names and tag values", async () => {
		const t = trace("acme-only-svc", { attributes: { "acme.secret": "s3" } });
		await send(t.spans, "acme-token");
		await finalizeNow(t.traceId, "acme");
		await eventually('{resource.service.name="acme-only-svc"}', (r) => ids(r).includes(t.traceId), {}, "Bearer acme-token");
		expect(await search('{resource.service.name="acme-only-svc"}', {}, "Bearer globex-token")).toEqual({ traces: [] });
		expect(ids(await search("{}", { limit: "1000" }))).not.toContain(t.traceId);
		const tags = async (token: string) => (await (await exports.default.fetch(new Request(`${BASE}/api/v2/search/tags`, { headers: { authorization: `Bearer ${token}` } }))).json()) as { scopes: { name: string; tags: string[] }[] };
		expect((await tags("acme-token")).scopes.find((s) => s.name === "span")!.tags).toContain("acme.secret");
		expect((await tags("globex-token")).scopes.find((s) => s.name === "span")!.tags).not.toContain("acme.secret");
		const values = async (token: string) => (await (await exports.default.fetch(new Request(`${BASE}/api/v2/search/tag/resource.service.name/values`, { headers: { authorization: `Bearer ${token}` } }))).json()) as { tagValues: { type: string; value: string }[] };
		expect((await values("acme-token")).tagValues).toContainEqual({ type: "string", value: "acme-only-svc" });
		expect((await values("globex-token")).tagValues.map((v) => v.value)).not.toContain("acme-only-svc");
	});

	it("rolls over to a new partition each hour; a search covers the hours of its range, newest first", async () => {
		const hourNs = BigInt(PARTITION_MS) * MS;
		const base = (nowNs() / hourNs - 5n) * hourNs; // five hours ago, on the hour
		const older = trace("rollover-svc");
		const newer = trace("rollover-svc");
		const at = (t: ReturnType<typeof trace>, start: bigint) => t.spans.map((s) => ({ ...s, startNs: s.startNs! - t.start + start, endNs: s.endNs! - t.start + start }));
		await send(at(older, base + 30n * 60_000n * MS));
		await send(at(newer, base + hourNs + 30n * 60_000n * MS));
		await finalizeNow(older.traceId);
		await finalizeNow(newer.traceId);
		const p1 = await partitionFor("", older.traceId, Number((base + 30n * 60_000n * MS) / MS));
		const p2 = await partitionFor("", newer.traceId, Number((base + hourNs + 30n * 60_000n * MS) / MS));
		expect(p1).not.toBe(p2);
		const sec = (ns: bigint) => String(ns / 1_000_000_000n);
		const both = await eventually('{resource.service.name="rollover-svc"}', (r) => ids(r).length === 2, { start: sec(base), end: sec(base + 2n * hourNs) });
		expect(ids(both)).toEqual([newer.traceId, older.traceId]);
		const limited = await search('{resource.service.name="rollover-svc"}', { start: sec(base), end: sec(base + 2n * hourNs), limit: "1" });
		expect(ids(limited)).toEqual([newer.traceId]);
		const firstHour = await search('{resource.service.name="rollover-svc"}', { start: sec(base), end: sec(base + 50n * 60_000n * MS) });
		expect(ids(firstHour)).toEqual([older.traceId]);
	});

	it("finds a truncated trace (per-trace span limit reached)", async () => {
		const traceId = randomHex(16);
		const start = nowNs() - 1_000n * MS;
		const spans: SpanSpec[] = Array.from({ length: 1_100 }, (_, i) => ({ traceId, spanId: randomHex(8), name: `op-${i % 7}`, service: "truncated-svc", startNs: start + BigInt(i) * MS, endNs: start + BigInt(i + 1) * MS }));
		await send(spans.slice(0, 600));
		await send(spans.slice(600));
		await finalizeNow(traceId);
		const result = await eventually('{resource.service.name="truncated-svc" && name="op-3"}', (r) => ids(r).includes(traceId));
		expect(result.traces![0]!.serviceStats!["truncated-svc"]!.spanCount).toBe(1_000);
	});
});

/** Rows a partition holds for one trace (tombstones included). */
async function rowsFor(traceId: string, startNs: bigint, tenant = ""): Promise<{ state: number; sort_key: string }[]> {
	const partition = env.SEARCH_PARTITION.getByName(await partitionFor(tenant, traceId, Number(startNs / MS)));
	return runInDurableObject(partition, (_instance, state) => state.storage.sql.exec<{ state: number; sort_key: string }>("SELECT state, sort_key FROM traces WHERE trace_id = ?", traceId).toArray());
}

describe("search index across restarts and failures", () => {
	it("indexes what a write put in R2 when spans arrived during it, not only the first batch", async () => {
		const t = trace("busy-svc");
		const [root, db] = t.spans as [SpanSpec, SpanSpec];
		await send([root]);
		await eventually('{resource.service.name="busy-svc"}', (r) => ids(r).includes(t.traceId));
		await send([db]);
		// The R2 write of {root, db} waits at a gate while a third span arrives: the trace stays open.
		const { release, restore } = holdR2Puts();
		try {
			const alarm = runDurableObjectAlarm(stubFor(t.traceId));
			await new Promise((r) => setTimeout(r, 50));
			await send([{ traceId: t.traceId, spanId: randomHex(8), parentSpanId: t.rootId, name: "during", service: "busy-svc", startNs: t.start + 60n * MS, endNs: t.start + 70n * MS }]);
			release();
			await alarm;
		} finally {
			restore();
		}
		// The second batch (db) is in R2 but neither in the first batch's entry nor pending: only
		// the write's own entry can find it.
		await eventually('{resource.service.name="busy-svc-db"}', (r) => ids(r).includes(t.traceId));
		expect((await rowsFor(t.traceId, t.start)).map((row) => row.state)).toEqual([0]);
		await finalizeNow(t.traceId);
		expect((await rowsFor(t.traceId, t.start)).map((row) => row.state)).toEqual([1]);
	});

	it("keeps one row when the object restarts between the first span and finalization, and a late root moves the start earlier", async () => {
		const t = trace("restart-svc");
		const child = { ...t.spans[1]!, parentSpanId: t.rootId };
		await send([child]);
		await eventually('{resource.service.name="restart-svc-db"}', (r) => ids(r).includes(t.traceId));
		await evictDurableObject(stubFor(t.traceId));
		// The root arrives later and starts earlier than the first span the object accepted.
		await send([t.spans[0]!]);
		await finalizeNow(t.traceId);
		const found = await eventually('{resource.service.name="restart-svc"}', (r) => ids(r).includes(t.traceId));
		expect(found.traces!.find((x) => x.traceID === t.traceId)!.startTimeUnixNano).toBe(String(t.start));
		const rows = await rowsFor(t.traceId, child.startNs!);
		expect(rows).toHaveLength(1);
		expect(rows[0]!.state).toBe(1);
	});

	it("retries a lost finalization entry from the alarm, reading the trace back from R2", async () => {
		const t = trace("retry-svc");
		// The open entry first (its write is asynchronous and, landing after the deletion below, would
		// stand in for the lost one).
		await send([t.spans[0]!]);
		await eventually('{resource.service.name="retry-svc"}', (r) => ids(r).includes(t.traceId));
		await send([t.spans[1]!]);
		await finalizeNow(t.traceId);
		await eventually('{resource.service.name="retry-svc-db"}', (r) => ids(r).includes(t.traceId));
		// As if the partition write had failed: the entry is gone and the object's state says so.
		const partition = env.SEARCH_PARTITION.getByName(await partitionFor("", t.traceId, Number(t.start / MS)));
		await runInDurableObject(partition, (_instance, state) => void state.storage.sql.exec("DELETE FROM traces WHERE trace_id = ?", t.traceId).toArray());
		expect(await rowsFor(t.traceId, t.start)).toEqual([]);
		await runInDurableObject(stubFor(t.traceId), (_instance, state) => {
			// A finalization writes no state row (R2's metadata says what is written): there may be none yet.
			const row = state.storage.sql.exec<{ state: string }>("SELECT state FROM parts WHERE seq = 0").toArray()[0];
			const traceState = JSON.parse(row?.state ?? '{"writtenUpTo":0}') as Record<string, unknown>;
			state.storage.sql.exec("INSERT INTO parts (seq, arrived_at, state) VALUES (0, 0, ?) ON CONFLICT (seq) DO UPDATE SET state = excluded.state", JSON.stringify({ ...traceState, searchPending: "final" }));
		});
		await evictDurableObject(stubFor(t.traceId));
		expect(await rowsFor(t.traceId, t.start)).toEqual([]);
		expect(ids(await search('{resource.service.name="retry-svc"}'))).not.toContain(t.traceId);
		expect(await runDurableObjectAlarm(stubFor(t.traceId))).toBe(true);
		await eventually('{resource.service.name="retry-svc-db"}', (r) => ids(r).includes(t.traceId));
		expect((await rowsFor(t.traceId, t.start)).map((r) => r.state)).toEqual([1]);
	});
});

describe("partition prefilter", () => {
	it("never drops a trace that the exact matcher accepts (SQL prefilter and Bloom bits against the code)", async () => {
		const { buildEntry } = await import("../src/search/entry");
		const { EntryState, rowOf, sortKeyOf } = await import("../src/search/row");
		const { compileQuery } = await import("../src/traceql/match");
		const { parseTraceQL } = await import("../src/traceql/parse");
		const base = nowNs() - 60_000n * MS;
		const entries = Array.from({ length: 60 }, (_, i) => {
			const traceId = randomHex(16);
			const root = randomHex(8);
			const start = base + BigInt(i) * MS;
			const spans: SpanSpec[] = [
				{ traceId, spanId: root, name: `GET /item/${i % 4}`, service: `svc-${i % 3}`, kind: 2, startNs: start, endNs: start + BigInt(i % 5 === 0 ? 1500 : 40) * MS, statusCode: i % 7 === 0 ? 2 : 0, attributes: { "http.response.status_code": i % 10 === 0 ? 500 : 200, "http.route": `/item/${i % 4}`, ratio: i / 10, flag: i % 2 === 0, "multi\nline=key": "x=y\\z" } },
				{ traceId, spanId: randomHex(8), parentSpanId: root, name: "db", service: "db", kind: 3, startNs: start + MS, endNs: start + 3n * MS, attributes: { foo: i % 3 === 0 ? "bar" : "baz", tags: ["a", `t${i % 2}`] } },
			];
			return buildEntry(traceId, protobufRequest(spans));
		});
		const partition = env.SEARCH_PARTITION.getByName(`prefilter-test/${randomHex(4)}`);
		await partition.put(entries.map((e) => rowOf(e, EntryState.Final, 1, sortKeyOf(BigInt(e.startNs)))));
		const queries = [
			"{}",
			'{resource.service.name="svc-1"}',
			'{.service.name="db" && span.foo="bar"}',
			"{span.http.response.status_code=500}",
			"{.http.response.status_code=500.0}",
			'{span.http.response.status_code="500"}',
			"{duration>1s && status=error}",
			"{duration>=1500ms}",
			"{duration<2ms}",
			"{duration=2ms}",
			"{traceDuration>1s}",
			'{name="GET /item/2" || name="db"}',
			'{rootName="GET /item/3"}',
			'{rootServiceName="svc-2" && kind=client}',
			"{span.flag=true}",
			"{span.ratio>2.5}",
			'{span.tags="t1"}',
			// A key with a newline and '=' (the term text's separators), spelled as a quoted attribute name.
			'{span."multi\\nline=key"="x=y\\\\z"}',
			'{(span.foo="bar" || span.foo="baz") && status!=error}',
			'{span.foo=~"b.r"}',
			'{span.foo="bar"} > {span.foo="baz"}',
			'{kind=server} >> {name="db"}',
			'{kind=server} !> {name="db"}',
			'{nestedSetParent<0 && true} && {span.tags="t1"}',
			'{span.foo!=nil} | count() > 0',
		];
		for (const q of queries) {
			const parsed = parseTraceQL(q);
			// Every query must run: a query that does not parse fails the test rather than being skipped.
			if (!parsed.ok) throw new Error(`${q}: ${parsed.error.message}`);
			const compiled = compileQuery(parsed.query);
			const expected = entries.filter((e) => compiled.match(e, 3)).map((e) => e.traceId).sort();
			const result = await partition.search({ query: q, startMs: 0, endMs: Date.now() + 60_000, limit: 1000, spss: 3, recheckOpen: 0 });
			expect(result.hits.map((h) => h.traceId).sort(), q).toEqual(expected);
			// The prefilter is exact for equality on attributes and names: no other row is even parsed.
			if (q === "{span.http.response.status_code=500}" || q === '{resource.service.name="svc-1"}') expect(result.inspected, q).toBe(expected.length);
		}
		// Newest first, and `limit` stops early.
		const newest = await partition.search({ query: "{}", startMs: 0, endMs: Date.now() + 60_000, limit: 5, spss: 3, recheckOpen: 0 });
		expect(newest.hits.map((h) => h.traceId)).toEqual(entries.slice(-5).reverse().map((e) => e.traceId));
		expect(newest.inspected).toBeLessThanOrEqual(6);
	});
});

describe("partition writes", () => {
	it("counts one row written per new entry, also in a batch of 500", async () => {
		const { buildEntry } = await import("../src/search/entry");
		const { EntryState, rowOf, sortKeyOf } = await import("../src/search/row");
		const partition = env.SEARCH_PARTITION.getByName(`rows-test/${randomHex(4)}`);
		const rows = Array.from({ length: 500 }, (_, i) => {
			const traceId = randomHex(16);
			const entry = buildEntry(traceId, protobufRequest([{ traceId, spanId: randomHex(8), name: `op-${i}`, startNs: nowNs() + BigInt(i) * MS }]));
			return rowOf(entry, EntryState.Final, 1, sortKeyOf(BigInt(entry.startNs)));
		});
		expect((await partition.put(rows)).rowsWritten).toBe(500);
		expect((await partition.stats()).rows).toBe(500);
		// The same entries again with the same version: nothing changes, nothing is written.
		expect((await partition.put(rows)).rowsWritten).toBe(0);
	});
});
