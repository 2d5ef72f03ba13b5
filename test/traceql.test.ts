// The TraceQL subset: every query Grafana's Search builder writes parses and means what Tempo means;
// everything else is a 400 with a message that says what is not supported; and no input, however
// hostile, makes the parser throw (seeded fuzz, like test/fuzz.test.ts).
import { describe, expect, it } from "vitest";
import { env } from "cloudflare:workers";
import { compileQuery } from "../src/traceql/match";
import { buildEntry } from "../src/search/entry";
import { INTERNAL_PARSE_ERROR, parseQuery, parseTraceQL, QueryError, type Query } from "../src/traceql/parse";
import { protobufRequest, randomHex, type SpanSpec } from "./helpers";
import { prng } from "./prng";

const CASES = Number((env as unknown as Record<string, string>).FUZZ_CASES ?? "400");
const SEED = Number((env as unknown as Record<string, string>).FUZZ_SEED ?? "1");
/** Long runs scale the per-test time limit with the number of cases. */
const TIMEOUT_MS = 20_000 + CASES * 10;

function parsed(text: string): Query {
	const result = parseTraceQL(text);
	if (!result.ok) throw new Error(`${text}: ${result.error.message}`);
	return result.query;
}

function refused(text: string): string {
	const result = parseTraceQL(text);
	if (result.ok) throw new Error(`${text} parsed, expected a refusal`);
	return result.error.message;
}

const BUILDER_QUERIES = [
	"{}",
	'{resource.service.name="frontend"}',
	'{resource.service.name="frontend" && name="HTTP GET /api/cart" && status=error}',
	"{duration>100ms && duration<5s}",
	"{traceDuration>100ms}",
	'{(span.foo="bar" || span.foo="baz")}',
	'{(span.foo!="bar" && span.foo!="baz")}',
	'{span.foo=~"bar|baz"}',
	'{span.foo!~".+"}',
	'{.footag>=1234 && .bartag="barvalue"}',
	"{kind=server}",
	'{name=~"api/v2/variants/by-upc/(?P<upc>[\\\\s\\\\S]*)/$"}',
];

describe("TraceQL parser", () => {
	it.each(BUILDER_QUERIES)("parses the builder's %s", (text) => {
		expect(parseTraceQL(text).ok).toBe(true);
	});

	it("reads scopes, intrinsics, operators and typed values", () => {
		expect(parsed('{resource.service.name="frontend"}').filter).toEqual({ op: "cond", field: { kind: "attribute", scope: "resource", key: "service.name" }, operator: "=", value: { type: "string", value: "frontend" } });
		expect(parsed("{.footag>=1234}").filter).toMatchObject({ field: { scope: "any", key: "footag" }, operator: ">=", value: { type: "int", value: 1234 } });
		expect(parsed("{span.ratio<0.5}").filter).toMatchObject({ value: { type: "float", value: 0.5 } });
		expect(parsed("{span.cached=true}").filter).toMatchObject({ value: { type: "bool", value: true } });
		expect(parsed("{duration>1.5s}").filter).toMatchObject({ field: { kind: "intrinsic", name: "duration" }, value: { type: "duration", value: 1_500_000_000 } });
		expect(parsed("{duration>250µs}").filter).toMatchObject({ value: { value: 250_000 } });
		expect(parsed("{duration<2m && traceDuration<1h}").filter).toMatchObject({ op: "and", left: { value: { value: 120e9 } }, right: { value: { value: 3600e9 } } });
		expect(parsed("{status=error}").filter).toMatchObject({ value: { type: "status", value: 2 } });
		expect(parsed("{kind=consumer}").filter).toMatchObject({ value: { type: "kind", value: 5 } });
		expect(parsed('{span:name="x" && trace:rootService="y"}').filter).toMatchObject({ left: { field: { name: "name" } }, right: { field: { name: "rootServiceName" } } });
		expect(parsed('{name="say \\"hi\\"\\\\\\n"}').filter).toMatchObject({ value: { value: 'say "hi"\\\n' } });
		expect(parsed("{ }").filter).toBeUndefined();
		expect(parseTraceQL("").ok).toBe(true);
	});

	it("binds && tighter than || and honours parentheses", () => {
		expect(parsed('{.a="1" || .b="2" && .c="3"}').filter).toMatchObject({ op: "or", right: { op: "and" } });
		expect(parsed('{(.a="1" || .b="2") && .c="3"}').filter).toMatchObject({ op: "and", left: { op: "or" } });
	});

	it.each([
		["{} | by(span.foo)", /by\(...\) on spansets is not supported/],
		["{} | rate() > 2", /metric filters and arithmetic/],
		["{} | topk(2)", /must follow a metrics function/],
		["{} | rate() | select(name)", /only topk\(k\) or bottomk\(k\)/],
		["({} | rate()) > {}", /must end the query/],
		["{} | quantile_over_time(duration)", /at least one quantile/],
		["{} | quantile_over_time(duration, 1.5)", /not between 0 and 1/],
		["{} | compare({}, 10, 5)", /both a start and an end/],
		["{} | compare({}, 0)", /top count/],
		["{} | rate() by(.a, .b, .c, .d, .e, .f)", /at most 5/],
		["{} | histogram_over_time(duration) by(.a, .b, .c, .d, .e)", /at most 4/],
		["{} | compare({}) by(.a)", /does not take by/],
		["{} | count()", /filters a spanset with a comparison/],
		["{} with(sample)", /expected '='/],
		['{event.name="x"}', /event attributes are not supported/],
		['{link.foo="x"}', /link attributes are not supported/],
		['{parent.foo="x"}', /structural operator/],
		["{span.foo}", /needs an operator/],
		['{foo="x"}', /unknown intrinsic/],
		['{name=~"("}', /invalid regular expression/],
		["{kind=banana}", /unexpected .banana./],
		['{duration>"1s"}', /duration compares with a duration/],
		["{status>error}", /only = and !=/],
		['{kind="server"}', /kind compares with/],
		['{name="unterminated}', /unterminated string/],
		["{duration>5parsecs}", /unknown duration unit/],
		['{.a="1"', /expected '}'/],
		['.a="1"', /spanset in braces/],
		["{{}}", /cannot sit inside another spanset/],
		['{(.a="1"}', /expected '\)'/],
		["{span.x > nil}", /use = nil or != nil/],
		['{span.x > true}', /not supported/],
		["{childCount > 2}", /not supported/],
	])("refuses %s", (text, message) => {
		expect(refused(text)).toMatch(message);
	});

	// RE2 semantics (Tempo's): every pattern below was refused by the old backtracking guard and is valid RE2.
	it.each([
		['{name=~"(a|b)*"}', "abab", true],
		['{name=~"(a+)+"}', "aaa", true],
		['{name=~"(\\\\w|\\\\d)*!"}', "ab12!", true],
		['{name=~"x(?:y*z)+"}', "xyzz", true],
		['{name=~"(?P<w>a|b){2,}"}', "ab", true],
		['{name=~"((ab)*c)*"}', "abcc", true],
		['{name=~".*e.*e.*e.*x"}', "eeex", true],
		['{name=~"(?i)GET /API"}', "get /api", true],
		['{name=~"a"}', "ab", false],
	] as const)("matches the RE2 pattern %s fully anchored (%s: %s)", (text, name, expected) => {
		const entry = entryOf([{ spanId: randomHex(8), name }]);
		expect(compileQuery(parsed(text)).match(entry, 3) !== undefined).toBe(expected);
	});

	it.each(['{name=~"(?=a)"}', '{name=~"(a)\\\\1"}', '{name=~".{0,1000}.{0,1000}"}'])("refuses %s, which RE2 does not accept or which compiles too large", (text) => {
		expect(refused(text)).toMatch(/regular expression/);
	});

	it("refuses over-long and over-deep queries with a message", () => {
		expect(refused(`{${"(".repeat(100)}.a="1"${")".repeat(100)}}`)).toMatch(/nested deeper/);
		expect(refused(`{${Array.from({ length: 40 }, (_, i) => `.a="${i}"`).join(" && ")}}`)).toMatch(/more than 32 conditions/);
		expect(refused(`{name="${"x".repeat(9000)}"}`)).toMatch(/longer than/);
	});
});

// --- meaning: conditions hold for the same span -------------------------------------------------

const T = 1_700_000_000_000_000_000n;
const MS = 1_000_000n;

function entryOf(spans: Omit<SpanSpec, "traceId">[]) {
	const traceId = randomHex(16);
	const request = protobufRequest(spans.map((s) => ({ traceId, ...s })));
	return buildEntry(traceId, request);
}

function matches(query: string, entry: ReturnType<typeof entryOf>) {
	return compileQuery(parsed(query)).match(entry, 3);
}

describe("TraceQL matching", () => {
	const root = randomHex(8);
	const entry = entryOf([
		{ spanId: root, name: "HTTP GET /api/cart", service: "frontend", kind: 2, startNs: T, endNs: T + 800n * MS, attributes: { "http.route": "/api/cart", "http.response.status_code": 500, foo: "bar", footag: 2000, bartag: "barvalue" }, statusCode: 2 },
		{ spanId: randomHex(8), parentSpanId: root, name: "SELECT cart", service: "cart-db", kind: 3, startNs: T + 10n * MS, endNs: T + 30n * MS, attributes: { foo: "baz", "db.system": "sqlite", tags: ["a", "b"] } },
		{ spanId: randomHex(8), parentSpanId: root, name: "api/v2/variants/by-upc/123/", service: "frontend", kind: 1, startNs: T + 40n * MS, endNs: T + 2_500n * MS, attributes: { ratio: 0.25, cached: true } },
	]);

	it.each([
		["{}", 3],
		['{resource.service.name="frontend"}', 2],
		['{resource.service.name="frontend" && name="HTTP GET /api/cart" && status=error}', 1],
		["{duration>100ms && duration<5s}", 2],
		["{traceDuration>100ms}", 3],
		['{(span.foo="bar" || span.foo="baz")}', 2],
		['{(span.foo!="bar" && span.foo!="baz")}', 0],
		['{span.foo=~"bar|baz"}', 2],
		['{span.foo=~"ba"}', 0],
		['{span.foo!~".+"}', 0],
		['{span.foo=~".+"}', 2],
		['{.footag>=1234 && .bartag="barvalue"}', 1],
		["{kind=server}", 1],
		['{name=~"api/v2/variants/by-upc/(?P<upc>[\\\\s\\\\S]*)/$"}', 1],
		["{span.http.response.status_code=500}", 1],
		['{span.http.response.status_code="500"}', 0],
		["{span.ratio<0.5 && span.cached=true}", 1],
		['{span.tags="b"}', 1],
		['{resource.service.name="cart-db" && span.foo="bar"}', 0],
		['{rootServiceName="frontend" && resource.service.name="cart-db"}', 1],
		['{rootName="HTTP GET /api/cart"}', 3],
		["{duration>2s && status=error}", 0],
		['{.service.name="cart-db"}', 1],
		["{status=unset}", 2],
		["{kind!=server}", 2],
	])("%s matches %i spans", (query, count) => {
		expect(matches(query, entry)?.matched ?? 0).toBe(count);
	});

	it("lists up to spss matching spans with the attributes the query names", () => {
		const match = compileQuery(parsed('{span.foo=~"ba.*" && resource.service.name=~".+"}')).match(entry, 1)!;
		expect(match.matched).toBe(2);
		expect(match.spans).toHaveLength(1);
		expect(match.spans[0]!.attributes.map((a) => a[0]).sort()).toEqual(["foo", "service.name"]);
	});

	it("says when the root span has not arrived", () => {
		const orphan = entryOf([{ spanId: randomHex(8), parentSpanId: randomHex(8), name: "child" }]);
		expect(orphan.rootServiceName).toBeUndefined();
		expect(matches('{rootServiceName="svc"}', orphan)).toBeUndefined();
		expect(matches("{}", orphan)?.matched).toBe(1);
	});
});

// --- fuzz --------------------------------------------------------------------------------------

const ALPHABET = ['{', '}', '(', ')', '&&', '||', '=', '!=', '=~', '!~', '>', '<', '>=', '|', '"', '\\', '.', 'span.', 'resource.', 'name', 'status', 'error', 'kind', 'server', 'duration', '100ms', '1.5s', '12', '-', '0.5', 'true', 'nil', ' ', 'µs', '"x"', '"a|b"', '"("', '\n', '\u0000', '🙂', 'count()', '>>', 'by(', ':', 'span:name', 'event.', '$', '`', '&>>', '!<<', '~', '&~', 'select(', 'rate()', 'compare(', 'quantile_over_time(', 'histogram_over_time(', 'topk(', 'with(', 'sample=true', ',', 'nestedSetParent', '<0', '1728987791000000000', 'avg(', 'min_over_time('];

/** Structural and metrics shapes for the fuzz to edit, beyond the builder's. */
export const EXTENDED_QUERIES = [
	"{nestedSetParent<0 && true} | rate()  with(sample=true)",
	"{nestedSetParent<0 && true&& duration > 1s}",
	'({kind=server} &>> {status = error}) || ({kind=server}) | select(status, resource.service.name, name, nestedSetParent, nestedSetLeft, nestedSetRight)',
	"{} >> {} | count() > 1",
	"{true} | quantile_over_time(duration, 0.5,0.9) by(resource.service.name)",
	"{} | compare({status = error}, 10, 1728987791000000000, 1728988006000000000)",
	"{} | histogram_over_time(duration) | topk(3)",
	"{} !~ {} && {} &< {} | avg(duration) > 10ms",
];

/** A small trace with a root, children, a grandchild and siblings, for evaluating fuzzed queries. */
function fuzzEntry() {
	const root = randomHex(8);
	const child = randomHex(8);
	return entryOf([
		{ spanId: root, name: "x", service: "a", kind: 2, attributes: { a: "b" } },
		{ spanId: child, parentSpanId: root, name: "y", service: "b", kind: 3, statusCode: 2, attributes: { a: 1 } },
		{ spanId: randomHex(8), parentSpanId: root, name: "z", service: "b", attributes: { a: true } },
		{ spanId: randomHex(8), parentSpanId: child, name: "w", service: "c", attributes: { c: 0.5 } },
	]);
}

describe("TraceQL fuzz", () => {
	// parseQuery, not parseTraceQL: the user-facing wrapper turns a crash into a 400, which would hide it here.
	it(`never crashes: every input is a query or a QueryError, and every query evaluates (${CASES * 5} cases)`, () => {
		const rng = prng(SEED);
		const entry = fuzzEntry();
		let accepted = 0;
		for (let i = 0; i < CASES * 5; i++) {
			let text: string;
			if (rng.next() < 0.5) {
				// A known query with random edits.
				const base = rng.pick(rng.next() < 0.5 ? BUILDER_QUERIES : EXTENDED_QUERIES);
				const chars = [...base];
				for (let k = 0; k < 1 + rng.int(4); k++) {
					const at = rng.int(chars.length + 1);
					if (rng.next() < 0.5) chars.splice(at, 1);
					else chars.splice(at, 0, rng.pick(ALPHABET));
				}
				text = chars.join("");
			} else {
				text = Array.from({ length: rng.int(24) }, () => rng.pick(ALPHABET)).join(rng.pick(["", " "]));
			}
			let query: Query;
			try {
				query = parseQuery(text);
			} catch (e) {
				if (!(e instanceof QueryError)) throw new Error(`parser crashed on ${JSON.stringify(text)}: ${String(e)}`);
				expect(e.message.length).toBeGreaterThan(0);
				continue;
			}
			accepted++;
			// An accepted query must also compile and evaluate without throwing.
			compileQuery(query).match(entry, 3);
		}
		expect(accepted).toBeGreaterThan(CASES / 10);
	}, TIMEOUT_MS);
});

describe("search endpoints fuzz", () => {
	it(`answer every hostile query and parameter with a 200 or a 4xx, never a 5xx (${CASES} cases)`, async () => {
		const { exports } = await import("cloudflare:workers");
		const { BASE } = await import("./helpers");
		const rng = prng(SEED + 1);
		const paths = ["/api/search", "/api/v2/search/tags", "/api/search/tags", "/api/v2/search/tag/X/values", "/api/search/tag/X/values", "/api/v2/traces/X", "/api/traces/X", "/api/metrics/query_range", "/api/metrics/query"];
		const noise = () => Array.from({ length: rng.int(12) }, () => rng.pick(ALPHABET)).join("");
		for (let i = 0; i < CASES; i++) {
			const path = rng.pick(paths).replace("X", encodeURIComponent(rng.next() < 0.5 ? noise() : rng.pick(["resource.service.name", "name", "status", ".x", "span.", "abc", "0", "f".repeat(40)])));
			const url = new URL(`${BASE}${path}`);
			url.searchParams.set("q", rng.next() < 0.5 ? rng.pick(rng.next() < 0.5 ? BUILDER_QUERIES : EXTENDED_QUERIES) : noise());
			for (const name of ["start", "end", "limit", "spss", "scope", "step", "exemplars", "since"]) {
				if (rng.next() < 0.4) url.searchParams.set(name, rng.pick(["", "0", "-1", "1e9", String(Math.floor(Date.now() / 1000)), "99999999999999", "x", "30s", "0.5", "2026-12-01T10:00:00Z", noise()]));
			}
			const response = await exports.default.fetch(new Request(url, { headers: { authorization: "Bearer test-token", accept: rng.pick(["application/protobuf", "application/json", "*/*"]) } }));
			const text = await response.text();
			expect(response.status, `${url.pathname}${url.search}: ${text.slice(0, 200)}`).toBeLessThan(500);
			// A parser crash answers 400 to users; here it must fail the test.
			expect(text, `${url.pathname}${url.search}`).not.toContain(INTERNAL_PARSE_ERROR);
		}
	}, TIMEOUT_MS);
});
