// FORWARD_DESTINATIONS, SAMPLING_RULES and friends: what is accepted, and the message a mistake gets.
import { describe, expect, it } from "vitest";
import { ConfigError } from "../../src/config";
import { destinationsFor, loadForwardConfig, parseHeaders } from "../../src/forward/config";
import { decide } from "../../src/forward/rules";
import { buildEntry } from "../../src/search/entry";

const error = (env: Record<string, string>) => {
	try {
		loadForwardConfig(env);
	} catch (e) {
		expect(e).toBeInstanceOf(ConfigError);
		return (e as Error).message;
	}
	throw new Error("expected a ConfigError");
};

describe("forwarding configuration", () => {
	it("reads destinations with defaults, headers from the named secret, and tenant routing", () => {
		const config = loadForwardConfig({
			FORWARD_DESTINATIONS: JSON.stringify([
				{ name: "hc", endpoint: "https://api.honeycomb.io/v1/traces", headersSecret: "HC" },
				{ name: "acme-only", endpoint: "https://otel.example/v1/traces", encoding: "json", compression: "none", tenants: ["acme"] },
			]),
			HC: "x-honeycomb-team=abc,Authorization=Basic%20dXNlcjpwYXNz",
		} as Record<string, string>);
		expect(config.destinations[0]).toMatchObject({ encoding: "protobuf", compression: "gzip", headers: { "x-honeycomb-team": "abc", authorization: "Basic dXNlcjpwYXNz" } });
		expect(destinationsFor(config, "acme").map((d) => d.name)).toEqual(["hc", "acme-only"]);
		expect(destinationsFor(config, "globex").map((d) => d.name)).toEqual(["hc"]);
		expect(config.maxBytes).toBe(4 * 1024 * 1024);
		expect(config.storeTraces).toBe("all");
	});

	it("names the variable and the mistake", () => {
		expect(error({ FORWARD_DESTINATIONS: "{" })).toMatch(/^FORWARD_DESTINATIONS is not JSON/);
		expect(error({ FORWARD_DESTINATIONS: '[{"name":"x","endpoint":"ftp://a/v1/traces"}]' })).toMatch(/FORWARD_DESTINATIONS\[0\]\.endpoint must be an http\(s\) URL/);
		expect(error({ FORWARD_DESTINATIONS: '[{"name":"x","endpoint":"https://a/v1/traces","headersSecret":"MISSING"}]' })).toMatch(/names MISSING, which is not set/);
		expect(error({ FORWARD_DESTINATIONS: '[{"name":"x","endpoint":"https://a/v1/traces","header":"k=v"}]' })).toMatch(/unknown key "header"/);
		expect(error({ SAMPLING_RULES: '[{"name":"a","when":"{ status = }"}]' })).toMatch(/^SAMPLING_RULES\[0\]\.when: /);
		expect(error({ SAMPLING_RULES: '[{"name":"a","sampleRate":0}]' })).toMatch(/sampleRate must be a whole number of at least 1/);
		expect(error({ SAMPLING_RULES: '[{"name":"a","drop":true,"sampleRate":2}]' })).toMatch(/either drops or has a sampleRate/);
		expect(error({ SAMPLING_RULES: '[{"name":"a","targetPerSecond":5}]' })).toMatch(/targetPerSecond is not supported/);
		expect(error({ STORE_TRACES: "sampled" })).toMatch(/needs SAMPLING_RULES/);
		expect(error({ STORE_TRACES: "some" })).toMatch(/STORE_TRACES must be "all" or "sampled"/);
		// Read by the queue consumer; a typo used to fall back to 600 s and "-5" to 1 s retries, silently.
		expect(error({ FORWARD_MAX_RETRY_DELAY_S: "-5" })).toMatch(/^FORWARD_MAX_RETRY_DELAY_S must be a whole number of at least 1/);
		expect(error({ FORWARD_MAX_RETRY_DELAY_S: "10m" })).toMatch(/^FORWARD_MAX_RETRY_DELAY_S must be a whole number/);
		expect(loadForwardConfig({ FORWARD_MAX_RETRY_DELAY_S: "30" }).maxRetryDelayS).toBe(30);
		expect(loadForwardConfig({}).maxRetryDelayS).toBe(600);
		expect(() => parseHeaders("content-type=text/plain", "H")).toThrow(/set by the forwarder itself/);
	});

	it("fails the whole configuration (so the first request answers 500 naming it) when a forwarding variable is wrong", async () => {
		const { loadConfig } = await import("../../src/config");
		expect(() => loadConfig({ SAMPLING_RULES: "[1]" })).toThrow(/^SAMPLING_RULES\[0\] must be an object$/);
	});

	it("with no rules keeps every trace under the rule 'default'", () => {
		expect(decide([], buildEntry("0af7651916cd43dd8448eb211c80319c", new Uint8Array(0)))).toEqual({ kept: true, rule: "default", sampleRate: 1 });
	});
});
