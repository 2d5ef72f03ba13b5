// SAMPLING_RULES: an ordered list, first match wins, evaluated once per trace on the whole merged
// trace at finalization. `when` is a TraceQL spanset read by the search's own parser and matched
// by its matcher against the trace's search entry (conditions hold for the same span, as in
// search). A trace no rule matches is kept (rate 1), as Refinery's rules-based sampler does.
import { ConfigError } from "../config";
import type { TraceEntry } from "../search/entry";
import { compileQuery, type CompiledQuery } from "../traceql/match";
import { parseTraceQL } from "../traceql/parse";
import { keepsOneIn } from "./deterministic";
import { parseObjectList, refuseUnknownKeys } from "./object-list";

export interface SamplingRule {
	name: string;
	when?: string;
	/** Undefined when the rule has no `when`: it matches every trace. */
	query?: CompiledQuery;
	/** Keep 1 in this many matching traces (1 keeps all). */
	sampleRate: number;
	drop: boolean;
}

/** A trace's sampling decision: what the trace object stores and the forwarded spans carry. */
export interface Decision {
	kept: boolean;
	/** The rule that decided ("default" when none matched, or no rules are set). */
	rule: string;
	/** The rule's rate: the kept trace stands for this many (SampleRate); 0 for a `drop` rule. */
	sampleRate: number;
}

export const DEFAULT_RULE = "default";
const MAX_RULES = 64;
const RULE_KEYS = new Set(["name", "when", "sampleRate", "drop"]);

export function parseSamplingRules(raw: string | undefined): SamplingRule[] {
	const names = new Set<string>();
	return parseObjectList("SAMPLING_RULES", raw, "rule", MAX_RULES).map((listed) => {
		const { where, fields: r } = listed;
		if ("targetPerSecond" in r) throw new ConfigError(`${where}: targetPerSecond is not supported; use a fixed sampleRate (README, "Forward to your backend")`);
		refuseUnknownKeys(listed, RULE_KEYS);
		if (typeof r.name !== "string" || !/^[A-Za-z0-9._:-]{1,64}$/.test(r.name)) throw new ConfigError(`${where}.name must be 1-64 letters, digits, '.', '_', ':' or '-'`);
		if (names.has(r.name)) throw new ConfigError(`${where}.name ${JSON.stringify(r.name)} is used twice`);
		names.add(r.name);
		if (r.drop !== undefined && typeof r.drop !== "boolean") throw new ConfigError(`${where}.drop must be true or false`);
		const drop = r.drop === true;
		if (drop && r.sampleRate !== undefined) throw new ConfigError(`${where}: a rule either drops or has a sampleRate, not both`);
		const sampleRate = r.sampleRate ?? 1;
		if (typeof sampleRate !== "number" || !Number.isSafeInteger(sampleRate) || sampleRate < 1) throw new ConfigError(`${where}.sampleRate must be a whole number of at least 1 (keep 1 in N)`);
		let query: CompiledQuery | undefined;
		if (r.when !== undefined) {
			if (typeof r.when !== "string") throw new ConfigError(`${where}.when must be a TraceQL spanset, e.g. "{ status = error }"`);
			const result = parseTraceQL(r.when);
			if (!result.ok) throw new ConfigError(`${where}.when: ${result.error.message}`);
			query = compileQuery(result.query);
		}
		return { name: r.name, when: r.when as string | undefined, query, sampleRate: drop ? 0 : sampleRate, drop };
	});
}

/** The first rule that matches `entry` (the whole trace's), and what it says for this trace id. */
export function decide(rules: readonly SamplingRule[], entry: TraceEntry): Decision {
	for (const rule of rules) {
		if (rule.query && !rule.query.matchesEverything && !entry.spans.some((span) => rule.query!.spanMatches(entry, span))) continue;
		if (rule.drop) return { kept: false, rule: rule.name, sampleRate: 0 };
		return { kept: keepsOneIn(entry.traceId, rule.sampleRate), rule: rule.name, sampleRate: rule.sampleRate };
	}
	return { kept: true, rule: DEFAULT_RULE, sampleRate: 1 };
}
