// TraceQL metrics as Grafana's Traces Drilldown asks for them (shared/reference/traceql-metrics.md
// §7): every query template with its exact spacing, against a known dataset ingested and
// finalized through the real path (trace objects → index partitions, rollups in the rows).
// Values, label keys and types, timestamps (integer milliseconds, interval ends aligned to the
// step), the instant response's exact key set, and the errors Grafana turns into friendly text.
import { beforeAll, describe, expect, it } from "vitest";
import { exports } from "cloudflare:workers";
import { BASE, finalizeNow, postTraces, protobufRequest, randomHex, type SpanSpec } from "./helpers";

const TOKEN = "Bearer globex-token";
const TENANT = "globex";
const S = 1_000_000_000n;
const MS = 1_000_000n;
/** Dataset start: a whole multiple of 300 s, within the last hour (the index keeps every hour). */
const B = Math.floor((Date.now() / 1000 - 2_400) / 300) * 300;
const at = (seconds: number) => BigInt(B) * S + BigInt(Math.round(seconds * 1e9));

interface TraceSpec {
	root: { name: string; service: string; kind: number; status: number; startS: number; durationMs: number; attributes?: SpanSpec["attributes"] };
	children?: { name: string; service: string; kind: number; status: number; offsetMs: number; durationMs: number; attributes?: SpanSpec["attributes"] }[];
}

/** Roots: two in (B, B+60], one in each later minute; one error root; children of several kinds. */
const DATASET: TraceSpec[] = [
	{ root: { name: "GET /cart", service: "frontend", kind: 2, status: 1, startS: 10, durationMs: 100, attributes: { "http.route": "/cart" } }, children: [{ name: "SELECT", service: "db", kind: 3, status: 0, offsetMs: 10, durationMs: 20, attributes: { "db.system.name": "postgresql" } }, { name: "charge", service: "payment", kind: 3, status: 2, offsetMs: 50, durationMs: 40 }] },
	{ root: { name: "GET /home", service: "frontend", kind: 2, status: 0, startS: 10.5, durationMs: 100 } },
	{ root: { name: "GET /cart", service: "frontend", kind: 2, status: 2, startS: 70, durationMs: 300, attributes: { "http.route": "/cart" } }, children: [{ name: "SELECT", service: "db", kind: 3, status: 0, offsetMs: 5, durationMs: 10, attributes: { "db.system.name": "postgresql" } }] },
	{ root: { name: "POST /pay", service: "payment", kind: 2, status: 0, startS: 130, durationMs: 2_000 }, children: [{ name: "auth", service: "payment", kind: 1, status: 0, offsetMs: 1, durationMs: 1 }] },
	{ root: { name: "GET /cart", service: "frontend", kind: 2, status: 0, startS: 190, durationMs: 50, attributes: { "http.route": "/cart" } } },
	{ root: { name: "consume", service: "queue", kind: 5, status: 0, startS: 250, durationMs: 5 } },
];

async function ingest(): Promise<string[]> {
	const spans: SpanSpec[] = [];
	const ids: string[] = [];
	for (const t of DATASET) {
		const traceId = randomHex(16);
		ids.push(traceId);
		const rootId = randomHex(8);
		const start = at(t.root.startS);
		spans.push({ traceId, spanId: rootId, name: t.root.name, service: t.root.service, kind: t.root.kind, statusCode: t.root.status, startNs: start, endNs: start + BigInt(t.root.durationMs) * MS, attributes: t.root.attributes });
		for (const c of t.children ?? []) {
			const cs = start + BigInt(c.offsetMs) * MS;
			spans.push({ traceId, spanId: randomHex(8), parentSpanId: rootId, name: c.name, service: c.service, kind: c.kind, statusCode: c.status, startNs: cs, endNs: cs + BigInt(c.durationMs) * MS, attributes: c.attributes });
		}
	}
	const response = await postTraces(protobufRequest(spans), { headers: { authorization: TOKEN } });
	expect(response.status).toBe(200);
	await response.arrayBuffer();
	for (const id of ids) await finalizeNow(id, TENANT);
	return ids;
}

interface Sample {
	timestampMs: string;
	value?: number;
}
interface Series {
	labels: { key: string; value: Record<string, unknown> }[];
	samples: Sample[];
	exemplars?: { labels: { key: string; value: Record<string, unknown> }[]; value: number; timestampMs: string }[];
}
interface RangeBody {
	series: Series[];
	metrics: Record<string, unknown>;
	status?: string;
	message?: string;
}

async function get(path: string, params: Record<string, string | number>, token = TOKEN): Promise<{ status: number; text: string; type: string | null }> {
	const url = new URL(`${BASE}${path}`);
	for (const [k, v] of Object.entries(params)) url.searchParams.set(k, String(v));
	const response = await exports.default.fetch(new Request(url, { headers: { authorization: token, accept: "application/json" } }));
	return { status: response.status, text: await response.text(), type: response.headers.get("content-type") };
}

/** What Grafana's data source sends for a range query: q, start/end in unix seconds, step as a duration. */
async function range(q: string, step: string, start = B, end = B + 300): Promise<RangeBody> {
	const r = await get("/api/metrics/query_range", { q, start, end, step });
	if (r.status !== 200) throw new Error(`${q}: ${r.status} ${r.text}`);
	return JSON.parse(r.text) as RangeBody;
}

/** Samples as [seconds after B, value] for compact expectations. */
function points(series: Series | undefined): [number, number][] {
	return (series?.samples ?? []).map((s) => [Number(s.timestampMs) / 1000 - B, s.value ?? 0]);
}

function byLabel(body: RangeBody, key: string, value: unknown): Series | undefined {
	return body.series.find((s) => s.labels.some((l) => l.key === key && Object.values(l.value)[0] === value));
}

/** Every timestamp is an integer-millisecond string, the end of an interval aligned to the step. */
function expectAligned(body: RangeBody, stepS: number) {
	for (const series of body.series) {
		for (const sample of series.samples) {
			expect(sample.timestampMs).toMatch(/^\d+$/);
			expect(Number(sample.timestampMs) % (stepS * 1000)).toBe(0);
		}
		const times = series.samples.map((s) => Number(s.timestampMs));
		expect(times).toEqual([...times].sort((a, b) => a - b));
	}
}

const ROOT = "{nestedSetParent<0 && true}";

describe("TraceQL metrics: the Drilldown's queries over a known dataset", () => {
	beforeAll(async () => {
		await ingest();
		// Index writes follow finalization; wait until every root is counted.
		const deadline = Date.now() + 25_000;
		for (;;) {
			const r = await get("/api/metrics/query", { q: `${ROOT} | count_over_time()`, start: B, end: B + 300 });
			if (r.status === 200 && (JSON.parse(r.text) as { series: { value?: number }[] }).series[0]?.value === 6) break;
			if (Date.now() > deadline) throw new Error(`dataset not indexed in time: ${r.text}`);
			await new Promise((resolve) => setTimeout(resolve, 50));
		}
	}, 30_000);

	it("RED rate: `{nestedSetParent<0 && true} | rate()  with(sample=true)` (two spaces), step range/64", async () => {
		const body = await range(`${ROOT} | rate()  with(sample=true)`, "60s");
		expect(body.series).toHaveLength(1);
		expect(body.series[0]!.labels).toEqual([{ key: "__name__", value: { stringValue: "rate" } }]);
		// Intervals (t − 60 s, t], one extra leading interval: samples at B, B+60, ..., B+300.
		expect(points(body.series[0])).toEqual([[0, 0], [60, 2 / 60], [120, 1 / 60], [180, 1 / 60], [240, 1 / 60], [300, 1 / 60]]);
		expectAligned(body, 60);
		// A zero sample has no value key, as Tempo's encoder writes it.
		expect(body.series[0]!.samples[0]).toEqual({ timestampMs: String(B * 1000) });
		// Exemplars: a trace id and the interval's (non-zero) rate.
		const exemplar = body.series[0]!.exemplars![0]!;
		expect(exemplar.labels[0]).toMatchObject({ key: "trace:id" });
		expect(exemplar.value).toBeGreaterThan(0);
		expect(body.status).toBeUndefined();
	});

	it("RED errors: `{nestedSetParent<0 && true && status=error} | rate()  with(sample=true)`", async () => {
		const body = await range(`{nestedSetParent<0 && true && status=error} | rate()  with(sample=true)`, "60s");
		expect(points(body.series[0])).toEqual([[0, 0], [60, 0], [120, 1 / 60], [180, 0], [240, 0], [300, 0]]);
	});

	it("RED duration: `| histogram_over_time(duration) with(sample=true)`: one numeric __bucket label in seconds", async () => {
		const body = await range(`${ROOT} | histogram_over_time(duration) with(sample=true)`, "60s");
		const buckets = body.series.map((s) => {
			expect(s.labels).toHaveLength(1);
			expect(s.labels[0]!.key).toBe("__bucket");
			return s.labels[0]!.value.doubleValue as number;
		});
		// 5 ms → 2^23 ns, 50 ms → 2^26, 100 ms → 2^27, 300 ms → 2^29, 2 s → 2^31, in seconds.
		expect(buckets.sort((a, b) => a - b)).toEqual([0.008388608, 0.067108864, 0.134217728, 0.536870912, 2.147483648]);
		expect(points(byLabel(body, "__bucket", 0.134217728))).toEqual([[0, 0], [60, 2], [120, 0], [180, 0], [240, 0], [300, 0]]);
		expect(points(byLabel(body, "__bucket", 2.147483648))).toEqual([[0, 0], [60, 0], [120, 0], [180, 1], [240, 0], [300, 0]]);
	});

	it("Breakdown, all: `| rate() ` and `| quantile_over_time(duration, 0.9) ` (trailing spaces, no hint)", async () => {
		const rate = await range(`${ROOT} | rate() `, "60s");
		expect(points(rate.series[0])[1]).toEqual([60, 2 / 60]);
		const errors = await range(`{nestedSetParent<0 && true && status=error} | rate() `, "60s");
		expect(points(errors.series[0])[2]).toEqual([120, 1 / 60]);
		const q = await range(`${ROOT} | quantile_over_time(duration, 0.9) `, "60s");
		expect(q.series).toHaveLength(1);
		// Ungrouped quantiles carry only p.
		expect(q.series[0]!.labels).toEqual([{ key: "p", value: { doubleValue: 0.9 } }]);
		// Tempo's Log2Quantile: the p-th sample falls at the end of a bucket, so the bucket's bound.
		expect(points(q.series[0])).toEqual([[0, 0], [60, 0.134217728], [120, 0.536870912], [180, 2.147483648], [240, 0.067108864], [300, 0.008388608]]);
	});

	it("Breakdown by G: `{… && G != nil} | rate() by(G)`: the label key is G exactly, values typed", async () => {
		const body = await range(`{nestedSetParent<0 && true && resource.service.name != nil} | rate() by(resource.service.name)`, "60s");
		expect(body.series.map((s) => s.labels)).toEqual([
			[{ key: "resource.service.name", value: { stringValue: "frontend" } }],
			[{ key: "resource.service.name", value: { stringValue: "payment" } }],
			[{ key: "resource.service.name", value: { stringValue: "queue" } }],
		]);
		expect(points(byLabel(body, "resource.service.name", "frontend"))).toEqual([[0, 0], [60, 2 / 60], [120, 1 / 60], [180, 0], [240, 1 / 60], [300, 0]]);
		const errors = await range(`{nestedSetParent<0 && true && status=error && resource.service.name != nil} | rate() by(resource.service.name)`, "60s");
		expect(errors.series.map((s) => s.labels[0]!.value)).toEqual([{ stringValue: "frontend" }]);
		const byStatus = await range(`{nestedSetParent<0 && true && status != nil} | rate() by(status)`, "60s");
		expect(byStatus.series.map((s) => s.labels[0])).toEqual([
			{ key: "status", value: { stringValue: "error" } },
			{ key: "status", value: { stringValue: "ok" } },
			{ key: "status", value: { stringValue: "unset" } },
		]);
		const q = await range(`{nestedSetParent<0 && true && resource.service.name != nil} | quantile_over_time(duration, 0.9) by(resource.service.name)`, "60s");
		expect(byLabel(q, "resource.service.name", "payment")!.labels).toEqual([{ key: "resource.service.name", value: { stringValue: "payment" } }, { key: "p", value: { doubleValue: 0.9 } }]);
		// A span attribute G (not in the rollups): answered from the entries, the same way.
		const route = await range(`{nestedSetParent<0 && true && span.http.route != nil} | rate() by(span.http.route)`, "60s");
		expect(route.series.map((s) => s.labels)).toEqual([[{ key: "span.http.route", value: { stringValue: "/cart" } }]]);
		expect(points(route.series[0])).toEqual([[0, 0], [60, 1 / 60], [120, 1 / 60], [180, 0], [240, 1 / 60], [300, 0]]);
	});

	it('Breakdown tile: `{… && G="v"} | rate() by(G)` and numeric-looking values unquoted', async () => {
		const body = await range(`{nestedSetParent<0 && true && resource.service.name="frontend"} | rate() by(resource.service.name)`, "60s");
		expect(body.series).toHaveLength(1);
		const kind = await range(`{nestedSetParent<0 && true && kind=server} | count_over_time() by(kind)`, "60s");
		expect(kind.series[0]!.labels).toEqual([{ key: "kind", value: { stringValue: "server" } }]);
		expect(points(kind.series[0]).reduce((sum, [, v]) => sum + v, 0)).toBe(5);
	});

	it("primary signals: all spans (`true`), kind=server, kind=consumer, span.db.system.name!=\"\"", async () => {
		const count = async (ps: string) => points((await range(`{${ps} && true} | count_over_time()`, "60s")).series[0]).reduce((sum, [, v]) => sum + v, 0);
		expect(await count("true")).toBe(10);
		expect(await count("kind=server")).toBe(5);
		expect(await count("kind=consumer")).toBe(1);
		expect(await count('span.db.system.name!=""')).toBe(2);
	});

	it("Comparison: `| compare({status = error}, 10)` over the whole range as one step", async () => {
		const body = await range(`${ROOT} | compare({status = error}, 10)`, "300s");
		const value = (type: string, key: string, v: unknown) =>
			points(body.series.find((s) => s.labels[0]!.value.stringValue === type && s.labels[1]!.key === key && Object.values(s.labels[1]!.value)[0] === v)).reduce((sum, [, x]) => sum + x, 0);
		// Label order: __meta_type first.
		expect(body.series.every((s) => s.labels[0]!.key === "__meta_type")).toBe(true);
		expect(value("selection", "status", "error")).toBe(1);
		expect(value("baseline", "status", "ok")).toBe(1);
		expect(value("baseline", "status", "unset")).toBe(4);
		expect(value("baseline", "resource.service.name", "frontend")).toBe(3);
		expect(value("selection", "resource.service.name", "frontend")).toBe(1);
		expect(value("baseline_total", "resource.service.name", "nil")).toBe(5);
		expect(value("selection_total", "resource.service.name", "nil")).toBe(1);
		expect(value("baseline", "span.http.route", "/cart")).toBe(2);
		// Typed attribute values, and no duration or nested-set series.
		expect(body.series.some((s) => s.labels[1]!.key === "duration" || s.labels[1]!.key.startsWith("nestedSet"))).toBe(false);
	});

	it("Comparison with a brushed duration selection: `compare({duration >= 262ms && duration <= 1s}, 10, startNs, endNs)`", async () => {
		const startNs = String(at(60));
		const endNs = String(at(120));
		const body = await range(`${ROOT} | compare({duration >= 262ms && duration <= 1s}, 10, ${startNs}, ${endNs})`, "300s");
		const selected = body.series.find((s) => s.labels[0]!.value.stringValue === "selection_total" && s.labels[1]!.key === "name");
		expect(points(selected).reduce((sum, [, v]) => sum + v, 0)).toBe(1);
		const auto = await range(`${ROOT} | compare({duration >= 262ms}, 10)`, "300s");
		const autoSelected = auto.series.find((s) => s.labels[0]!.value.stringValue === "selection_total" && s.labels[1]!.key === "name");
		expect(points(autoSelected).reduce((sum, [, v]) => sum + v, 0)).toBe(2);
		const none = await range(`${ROOT} | compare({})`, "300s");
		expect(none.series.some((s) => s.labels[0]!.value.stringValue === "baseline")).toBe(false);
		expect(none.series.some((s) => s.labels[0]!.value.stringValue === "selection")).toBe(true);
	});

	it("Time seeker: `| quantile_over_time(duration, 0.5,0.9) with(sample=true)`, step 30s", async () => {
		const body = await range(`${ROOT} | quantile_over_time(duration, 0.5,0.9) with(sample=true)`, "30s");
		expect(body.series.map((s) => s.labels)).toEqual([[{ key: "p", value: { doubleValue: 0.5 } }], [{ key: "p", value: { doubleValue: 0.9 } }]]);
		expectAligned(body, 30);
		expect(body.series[0]!.samples).toHaveLength(11);
	});

	it("config probe: `{} | rate()` without a step answers 200 with Tempo 3.0's default step", async () => {
		const now = Math.floor(Date.now() / 1000);
		const r = await get("/api/metrics/query_range", { q: "{} | rate()", start: now - 60, end: now });
		expect(r.status).toBe(200);
		const body = JSON.parse(r.text) as RangeBody;
		expect(body.series).toEqual([]);
		expect(r.text).not.toContain("localblocks processor not found");
	});

	it("topk/bottomk keep, per sample, only the k highest/lowest series", async () => {
		const top = await range(`${ROOT} | count_over_time() by(resource.service.name) | topk(1)`, "60s");
		// Ties at zero go to one series or another (Tempo's heap is no better); the non-zero points are exact.
		expect(points(byLabel(top, "resource.service.name", "frontend")).filter(([, v]) => v > 0)).toEqual([[60, 2], [120, 1], [240, 1]]);
		expect(points(byLabel(top, "resource.service.name", "payment")).filter(([, v]) => v > 0)).toEqual([[180, 1]]);
		const bottom = await range(`{nestedSetParent<0 && true && resource.service.name != nil} | count_over_time() by(resource.service.name) | bottomk(1)`, "60s");
		expect(bottom.series.length).toBeGreaterThan(0);
	});

	it("min/max/sum/avg_over_time(duration) in seconds; empty intervals have no sample", async () => {
		const max = await range(`${ROOT} | max_over_time(duration)`, "60s");
		expect(max.series[0]!.labels).toEqual([{ key: "__name__", value: { stringValue: "max_over_time" } }]);
		expect(points(max.series[0])).toEqual([[60, 0.1], [120, 0.3], [180, 2], [240, 0.05], [300, 0.005]]);
		const avg = await range(`{true} | avg_over_time(duration) by(resource.service.name)`, "60s");
		expect(points(byLabel(avg, "resource.service.name", "db"))).toEqual([[60, 0.02], [120, 0.01]]);
		const sum = await range(`{resource.service.name="payment"} | sum_over_time(duration)`, "60s");
		expect(points(sum.series[0])).toEqual([[60, 0.04], [180, 2.001]]);
	});

	it("answers the instant query with exactly the keys Grafana's strict decoder allows", async () => {
		const r = await get("/api/metrics/query", { q: `${ROOT} | rate() by(resource.service.name)`, start: B, end: B + 300 });
		expect(r.status).toBe(200);
		const body = JSON.parse(r.text) as Record<string, unknown>;
		const allowedTop = ["series", "metrics", "status", "message"];
		const allowedSeries = ["labels", "value", "promLabels"];
		const allowedMetrics = ["inspectedTraces", "inspectedBytes", "totalBlocks", "completedJobs", "totalJobs", "totalBlockBytes", "inspectedSpans"];
		const allowedAnyValue = ["stringValue", "intValue", "doubleValue", "boolValue"];
		for (const key of Object.keys(body)) expect(allowedTop, `top-level key ${key}`).toContain(key);
		for (const key of Object.keys(body.metrics as object)) expect(allowedMetrics, `metrics key ${key}`).toContain(key);
		const series = body.series as Record<string, unknown>[];
		expect(series.length).toBe(3);
		for (const s of series) {
			for (const key of Object.keys(s)) expect(allowedSeries, `series key ${key}`).toContain(key);
			for (const label of s.labels as Record<string, unknown>[]) {
				expect(Object.keys(label).sort()).toEqual(["key", "value"]);
				for (const key of Object.keys(label.value as object)) expect(allowedAnyValue).toContain(key);
			}
		}
		// Instant rate: spans in (start, end] over the whole range in seconds.
		expect(series.find((s) => JSON.stringify(s.labels).includes("frontend"))!.value).toBeCloseTo(4 / 300, 12);
	});

	it("accepts every time form Tempo does: seconds, nanoseconds, fractional seconds, RFC 3339; step as seconds or a duration", async () => {
		const q = `${ROOT} | count_over_time()`;
		const total = async (params: Record<string, string | number>) => {
			const r = await get("/api/metrics/query_range", { q, ...params });
			expect(r.status, r.text).toBe(200);
			return (JSON.parse(r.text) as RangeBody).series[0]!.samples.reduce((sum, s) => sum + (s.value ?? 0), 0);
		};
		expect(await total({ start: B, end: B + 300, step: "60" })).toBe(6);
		expect(await total({ start: `${B}000000000`, end: `${B + 300}000000000`, step: "1m" })).toBe(6);
		expect(await total({ start: `${B}.0`, end: `${B + 300}.0`, step: "1m0s" })).toBe(6);
		expect(await total({ start: new Date(B * 1000).toISOString(), end: new Date((B + 300) * 1000).toISOString(), step: "60000ms" })).toBe(6);
		const legacy = await get("/api/metrics/query_range", { query: q, start: B, end: B + 300, step: "60s" });
		expect(legacy.status).toBe(200);
	});

	it.each([
		[{ q: "{} | rate()", start: 100, end: 50 }, /^end must be greater than start$/],
		[{ q: "{} | rate()", start: 1, end: 1 + 25 * 3600 }, /^metrics query time range exceeds the maximum allowed duration of 24h0m0s$/],
		[{ q: "{} | rate()", start: B, end: B + 3600, step: "0.1" }, /^step of 100ms is too small, minimum step for given range is 360ms$/],
		[{ q: "{} | rate()", start: B, end: B + 60, step: "-1" }, /negative/],
		[{ q: "{}", start: B, end: B + 60 }, /not a metrics query/],
		[{ q: "{} | rate() > 1", start: B, end: B + 60 }, /metric filters and arithmetic/],
		[{ q: "{", start: B, end: B + 60 }, /invalid TraceQL query/],
		[{ q: "{} | rate()", start: "yesterday", end: B + 60 }, /start must be/],
		[{ q: "{} | rate()", start: B, end: B + 60, exemplars: "x" }, /exemplars/],
	])("answers %j with a 400 and a plain-text message", async (params, message) => {
		const r = await get("/api/metrics/query_range", params as Record<string, string | number>);
		expect(r.status).toBe(400);
		expect(r.type).toMatch(/^text\/plain/);
		expect(r.text).toMatch(message);
	});

	it("answers the same from rollups as from the entries (a condition rollups lack forces the exact path)", async () => {
		for (const [fast, exact] of [
			[`${ROOT} | rate()`, `{nestedSetParent<0 && true && duration >= 0} | rate()`],
			[`{true} | histogram_over_time(duration) by(kind)`, `{true && duration >= 0} | histogram_over_time(duration) by(kind)`],
			[`{kind=client} | quantile_over_time(duration, 0.5, 0.99) by(resource.service.name, status)`, `{kind=client && duration >= 0} | quantile_over_time(duration, 0.5, 0.99) by(resource.service.name, status)`],
		] as const) {
			const a = await range(fast, "60s");
			const b = await range(exact, "60s");
			expect(a.series.map((s) => [s.labels, s.samples]), fast).toEqual(b.series.map((s) => [s.labels, s.samples]));
			expect(a.series.length).toBeGreaterThan(0);
		}
	});

	it("says PARTIAL, with a message, while a trace in the range is still open", async () => {
		const traceId = randomHex(16);
		const start = at(200);
		const response = await postTraces(protobufRequest([{ traceId, spanId: randomHex(8), name: "open", service: "late", kind: 2, startNs: start, endNs: start + 5n * MS }]), { headers: { authorization: TOKEN } });
		await response.arrayBuffer();
		const deadline = Date.now() + 15_000;
		let body: RangeBody;
		do {
			body = await range(`${ROOT} | rate()`, "60s");
			if (body.status === "PARTIAL") break;
			await new Promise((resolve) => setTimeout(resolve, 50));
		} while (Date.now() < deadline);
		expect(body.status).toBe("PARTIAL");
		expect(body.message).toMatch(/still open/);
		await finalizeNow(traceId, TENANT);
	}, 30_000);

	it("every tag the tags API lists (minus the Drilldown's ignore list) works in by(), != nil and compare()", async () => {
		const IGNORED = ["duration", "event:name", "nestedSetLeft", "nestedSetParent", "nestedSetRight", "span:duration", "span:id", "trace:duration", "trace:id", "traceDuration"];
		const tags = await get("/api/v2/search/tags", { start: B, end: B + 300, limit: 5000 });
		const scopes = (JSON.parse(tags.text) as { scopes: { name: string; tags: string[] }[] }).scopes;
		const names = scopes.flatMap((scope) => scope.tags.map((tag) => (scope.name === "intrinsic" ? tag : `${scope.name}.${tag}`))).filter((g) => !IGNORED.includes(g));
		expect(names).toEqual(expect.arrayContaining(["resource.service.name", "span.http.route", "name", "status", "kind", "rootServiceName"]));
		const compared = await range(`{true} | compare({status = error}, 10)`, "300s");
		const comparedKeys = new Set(compared.series.map((s) => s.labels[1]!.key));
		for (const g of names) {
			const body = await range(`{true && ${g} != nil} | rate() by(${g})`, "60s");
			expect(body.series.length, g).toBeGreaterThan(0);
			// The Drilldown reads the label by the exact text it grouped by.
			for (const s of body.series) expect(s.labels.map((l) => l.key), g).toEqual([g]);
			// compare() leaves out empty status messages, as there are none to compare here.
			if (g !== "statusMessage") expect(comparedKeys.has(g), `compare() has ${g}`).toBe(true);
		}
	});

	it("is tenant-scoped and needs the read scope", async () => {
		const other = await get("/api/metrics/query_range", { q: `${ROOT} | count_over_time()`, start: B, end: B + 300, step: "60s" }, "Bearer acme-token");
		expect((JSON.parse(other.text) as RangeBody).series).toEqual([]);
		const writer = await get("/api/metrics/query_range", { q: `${ROOT} | count_over_time()`, start: B, end: B + 300, step: "60s" }, "Bearer writer-token");
		expect(writer.status).toBe(403);
		const none = await get("/api/metrics/query_range", { q: `${ROOT} | count_over_time()`, start: B, end: B + 300, step: "60s" }, "");
		expect(none.status).toBe(401);
	});
});

describe("TraceQL metrics at an interval's edge", () => {
	it("counts a span starting exactly at t in (t − step, t], from rollups and from entries alike", async () => {
		const token = "Bearer acme-token";
		const spans: SpanSpec[] = [];
		const ids: string[] = [];
		for (const offsetNs of [0n, 1_000_000n]) {
			const traceId = randomHex(16);
			ids.push(traceId);
			const start = at(120) + offsetNs;
			spans.push({ traceId, spanId: randomHex(8), name: "edge", service: "edge", kind: 2, startNs: start, endNs: start + 10n * MS });
		}
		const response = await postTraces(protobufRequest(spans), { headers: { authorization: token } });
		await response.arrayBuffer();
		for (const id of ids) await finalizeNow(id, "acme");
		for (const q of [`${ROOT} | count_over_time()`, `{nestedSetParent<0 && true && duration >= 0} | count_over_time()`]) {
			const deadline = Date.now() + 15_000;
			let got: [number, number][] = [];
			do {
				const r = await get("/api/metrics/query_range", { q, start: B, end: B + 300, step: "60s" }, token);
				got = points((JSON.parse(r.text) as RangeBody).series[0]);
				if (got.reduce((sum, [, v]) => sum + v, 0) === 2) break;
				await new Promise((resolve) => setTimeout(resolve, 50));
			} while (Date.now() < deadline);
			// B+120 s exactly: the interval ending at B+120; a millisecond later: the next one.
			expect(got, q).toEqual([[0, 0], [60, 0], [120, 1], [180, 1], [240, 0], [300, 0]]);
		}
	}, 40_000);
});

describe("TraceQL metrics time frame (Tempo's conventions)", () => {
	it("aligns a range as Tempo ≥ 2.9 does: the reference's example of 28 s steps", async () => {
		const { rangeFrame, sampleTimeMs } = await import("../src/traceql/metrics/plan");
		const frame = rangeFrame(1_760_000_000_000, 1_760_001_800_000, 28_000);
		expect(frame.startMs).toBe(1_759_999_948_000);
		expect(frame.intervals).toBe(67);
		expect(sampleTimeMs(frame, 0)).toBe(1_759_999_976_000);
		expect(sampleTimeMs(frame, 1)).toBe(1_760_000_004_000);
		expect(sampleTimeMs(frame, 66)).toBe(1_760_001_824_000);
	});

	it("picks Tempo 3.0's default step and writes Go durations", async () => {
		const { defaultStepMs, goDuration } = await import("../src/traceql/metrics/plan");
		expect(defaultStepMs(1_800_000)).toBe(5_000);
		expect(defaultStepMs(3_600_000)).toBe(15_000);
		expect(defaultStepMs(6 * 3_600_000)).toBe(60_000);
		expect(defaultStepMs(24 * 3_600_000)).toBe(300_000);
		expect(defaultStepMs(30_000)).toBe(100);
		expect(goDuration(86_400_000e6)).toBe("24h0m0s");
		expect(goDuration(1.5e9)).toBe("1.5s");
		expect(goDuration(250e6)).toBe("250ms");
		expect(goDuration(90e9)).toBe("1m30s");
	});

	it("keeps compare()'s top N values per attribute and every total", async () => {
		const { finishSeries } = await import("../src/traceql/metrics/finish");
		const { parseQuery } = await import("../src/traceql/parse");
		const query = parseQuery("{} | compare({status=error}, 2)");
		const frame = { startMs: 0, stepMs: 1000, intervals: 1, instant: false };
		const series = (type: string, key: string, value: string, count: number) => ({ labels: [{ key: "__meta_type", value: { stringValue: type } }, { key, value: { stringValue: value } }], count: [count], exemplars: [] });
		const merged = {
			series: Object.fromEntries(
				[series("baseline", "name", "a", 5), series("baseline", "name", "b", 3), series("baseline", "name", "c", 1), series("baseline_total", "name", "nil", 9), series("selection", "name", "c", 2)].map((s, i) => [String(i), s]),
			),
			inspectedTraces: 0,
			inspectedSpans: 0,
			rowsRead: 0,
			openTraces: 0,
			truncatedTraces: 0,
			rollupRows: 0,
		};
		const out = finishSeries(query.metrics!, frame, merged).map((s) => `${(s.labels[0]!.value as { stringValue: string }).stringValue}:${(s.labels[1]!.value as { stringValue: string }).stringValue}`);
		expect(out.sort()).toEqual(["baseline:a", "baseline:b", "baseline_total:nil", "selection:c"]);
	});
});

describe("compare() over high-cardinality attributes", () => {
	it("counts every value before keeping the top N, so a frequent value is not crowded out by unique ids", async () => {
		const { SeriesSet } = await import("../src/traceql/metrics/accumulate");
		const { finishSeries } = await import("../src/traceql/metrics/finish");
		const { metricsContext, newSeriesSet, observeEntry } = await import("../src/traceql/metrics/observe");
		const { compileQuery } = await import("../src/traceql/match");
		const { parseQuery } = await import("../src/traceql/parse");
		const { buildEntry } = await import("../src/search/entry");
		const query = parseQuery("{} | compare({status=error}, 3)");
		const frame = { startMs: Number(at(0) / MS), stepMs: 300_000, intervals: 1, instant: false };
		const context = metricsContext(query, frame, compileQuery(query));
		const set = newSeriesSet(context);
		expect(set).toBeInstanceOf(SeriesSet);
		// 6,000 spans, each with a unique request id (more values than any answer's 5,000 series) and one of two routes.
		for (let i = 0; i < 6_000; i++) {
			const traceId = randomHex(16);
			const start = at(1) + BigInt(i) * MS;
			observeEntry(context, set, buildEntry(traceId, protobufRequest([{ traceId, spanId: randomHex(8), name: "op", startNs: start, endNs: start + MS, attributes: { "request.id": randomHex(8), route: i % 3 === 0 ? "/rare" : "/common" } }])));
		}
		expect(set.result.seriesLimited).toBeUndefined();
		const series = finishSeries(query.metrics!, frame, set.result);
		const routes = series.filter((s) => s.labels[1]!.key === "span.route" && (s.labels[0]!.value as { stringValue: string }).stringValue === "baseline");
		expect(routes.map((s) => [(s.labels[1]!.value as { stringValue: string }).stringValue, s.values[0]])).toEqual([["/common", 4_000], ["/rare", 2_000]]);
		expect(series.filter((s) => s.labels[1]!.key === "span.request.id" && (s.labels[0]!.value as { stringValue: string }).stringValue === "baseline")).toHaveLength(3);
	});
});
