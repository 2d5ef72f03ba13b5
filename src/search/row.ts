// An entry as one row of an index partition: scalar columns that SQL filters on (time, durations,
// error, root), a `terms` text of the trace's distinct facts (each a short hash) that `instr` can
// test, a small Bloom filter of the same terms in integer columns (so most rows are skipped with
// integer arithmetic before any text is searched), and the entry itself in its compact binary form
// (entry-codec.ts) for exact per-span matching. The terms only narrow: every row they let through
// is matched exactly against the decoded entry, so a hash collision costs a decode, never a wrong hit.
// One row per trace, keyed by (sort key, trace id): the sort key is fixed when the trace opens, so
// replacing the row is one row written, and the key's order lets `{}` read only the newest rows.
// The table has no other index: each would be another row written.
import type { TraceEntry, ValueType } from "./entry";
import { encodeEntry } from "./entry-codec";
import { rollupsOf } from "../traceql/metrics/rollup";

export const enum EntryState {
	/** Written at the trace's first span: the facts of that first batch. */
	Open = 0,
	/** Written after each successful finalization: the whole trace. */
	Final = 1,
	/** The trace was merged into another: never listed on its own again. */
	Merged = 2,
}

export interface IndexRow {
	/**
	 * The start of the first span the trace's object accepted, zero-padded to 20 digits: fixed for
	 * the life of the entry, never earlier than the trace's start (`startKey`).
	 */
	sortKey: string;
	traceId: string;
	state: EntryState;
	/** A row replaces the stored one only with a higher version: 0 for open, the finalization time after. */
	version: number;
	startMs: number;
	endMs: number;
	/** startNs zero-padded to 20 digits: sorts as text in time order. */
	startKey: string;
	durationNs: number;
	minSpanNs: number;
	maxSpanNs: number;
	error: 0 | 1;
	rootService: string | null;
	rootName: string | null;
	terms: string;
	/** TraceQL metrics rollups of root spans and of the other spans (src/traceql/metrics/rollup.ts): in this row, no row of their own. */
	rollRoots: string | null;
	rollSpans: string | null;
	/** BLOOM_COLUMNS integers of BLOOM_BITS bits each: the Bloom filter of `terms`. */
	bloom: number[];
	/** encodeEntry's bytes (empty for a merge tombstone). */
	entry: Uint8Array;
}

/** Bloom filter layout: 6 integer columns of 50 bits (exact in a JavaScript number), 2 bits per term. */
export const BLOOM_COLUMNS = 6;
export const BLOOM_BITS = 50;

/** The (column, bit) pairs of a term: two positions from FNV-1a hashes with different seeds. */
export function bloomPositions(text: string): [column: number, bit: number][] {
	const out: [number, number][] = [];
	for (const seed of [0x811c9dc5, 0x01000193]) {
		let h = seed >>> 0;
		for (let i = 0; i < text.length; i++) {
			h ^= text.charCodeAt(i);
			h = Math.imul(h, 0x01000193) >>> 0;
		}
		const position = h % (BLOOM_COLUMNS * BLOOM_BITS);
		out.push([Math.floor(position / BLOOM_BITS), position % BLOOM_BITS]);
	}
	return out;
}

function bloomOf(terms: Iterable<string>): number[] {
	const bits = Array.from({ length: BLOOM_COLUMNS }, () => new Set<number>());
	for (const t of terms) for (const [column, bit] of bloomPositions(t)) bits[column]!.add(bit);
	return bits.map((set) => [...set].reduce((sum, bit) => sum + 2 ** bit, 0));
}

/** The version of a merge tombstone: no later entry of the same id replaces it. */
export const MERGED_VERSION = Number.MAX_SAFE_INTEGER;

export function rowOf(entry: TraceEntry, state: EntryState, version: number, sortKey: string): IndexRow {
	const start = BigInt(entry.startNs);
	const end = BigInt(entry.endNs);
	let minSpanNs = Number.MAX_SAFE_INTEGER;
	let maxSpanNs = 0;
	let error: 0 | 1 = 0;
	const terms = new Set<string>();
	for (const group of entry.resources) for (const index of group) terms.add(pairTerm("r", entry, index));
	for (const span of entry.spans) {
		minSpanNs = Math.min(minSpanNs, span[3]);
		maxSpanNs = Math.max(maxSpanNs, span[3]);
		if (span[5] === 2) error = 1;
		terms.add(nameTerm(span[1]));
		for (const index of span[7]) terms.add(pairTerm("s", entry, index));
	}
	for (const [, errors] of Object.values(entry.services)) if (errors > 0) error = 1;
	if (entry.spans.length === 0) minSpanNs = 0;
	const rollups = rollupsOf(entry);
	return {
		sortKey,
		traceId: entry.traceId,
		state,
		version,
		startMs: Number(start / 1_000_000n),
		endMs: Number(end / 1_000_000n),
		startKey: entry.startNs.padStart(20, "0"),
		durationNs: Number(end > start ? end - start : 0n),
		minSpanNs,
		maxSpanNs,
		error,
		rootService: entry.rootServiceName ?? null,
		rootName: entry.rootName ?? null,
		terms: `\n${[...terms].join("\n")}\n`,
		bloom: bloomOf(terms),
		rollRoots: rollups.roots,
		rollSpans: rollups.spans,
		entry: encodeEntry(entry),
	};
}

/** A tombstone: what a merged trace leaves in its partition. */
export function mergedRow(traceId: string, sortKey: string): IndexRow {
	return { sortKey, bloom: Array(BLOOM_COLUMNS).fill(0), traceId, state: EntryState.Merged, version: MERGED_VERSION, startMs: 0, endMs: 0, startKey: "", durationNs: 0, minSpanNs: 0, maxSpanNs: 0, error: 0, rootService: null, rootName: null, terms: "", rollRoots: null, rollSpans: null, entry: new Uint8Array(0) };
}

/**
 * One line of `terms`: a hash of scope (`r` resource, `s` span), value type, the key's length, key
 * and value, as 5 base-64 digits (30 bits). Shorter than the fact itself (the terms of the standard
 * trace were 2.9 KB as text) and never holding a newline, so `instr(terms, "\n<term>\n")` tests
 * one whole line; a collision only lets a row through to the exact match.
 */
export function term(scope: "r" | "s", type: ValueType, key: string, value: string | number | boolean): string {
	return hashTerm(`${scope}${type}${key.length}:${key}=${String(value)}`);
}

/** The sort key of a time in nanoseconds since the epoch. */
export function sortKeyOf(startNs: bigint): string {
	return String(startNs < 0n ? 0n : startNs).padStart(20, "0");
}

export function nameTerm(name: string): string {
	return hashTerm(`n${name}`);
}

function pairTerm(scope: "r" | "s", entry: TraceEntry, index: number): string {
	const [key, type, value] = entry.values[index]!;
	return term(scope, type, key, value);
}

const DIGITS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/**
 * 30 bits from two FNV-1a hashes (different seeds) of the fact's text, as 5 base-64 digits: with
 * ~50 facts a trace, a query term matches another fact's hash in about one row in 20 million,
 * which then costs one decode, never a wrong hit.
 */
function hashTerm(text: string): string {
	let a = 0x811c9dc5;
	let b = 0x050c5d1f;
	for (let i = 0; i < text.length; i++) {
		const c = text.charCodeAt(i);
		a = Math.imul(a ^ c, 0x01000193) >>> 0;
		b = Math.imul(b ^ c, 0x01000193) >>> 0;
	}
	let out = "";
	for (let i = 0; i < 3; i++) out += DIGITS[(a >>> (i * 6)) & 63]!;
	for (let i = 0; i < 2; i++) out += DIGITS[(b >>> (i * 6)) & 63]!;
	return out;
}

/** What a row stores, in bytes: text as UTF-8, integers at 8 (SQLite stores small ones in fewer). */
export function rowBytes(row: IndexRow): number {
	const text = (s: string | null) => (s === null ? 0 : new TextEncoder().encode(s).length);
	return text(row.sortKey) + text(row.traceId) + text(row.startKey) + text(row.rootService) + text(row.rootName) + text(row.terms) + text(row.rollRoots) + text(row.rollSpans) + row.entry.length + 8 * (8 + row.bloom.length);
}
