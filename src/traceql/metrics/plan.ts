// The time frame of a metrics query, as Tempo 3.0 lays it out: request times in any of Tempo's
// forms, a default step when none is given, and (for a range query) intervals aligned to the step,
// left-open and right-closed (t − step, t], each sample stamped with its interval's end, with one
// extra leading interval (Tempo ≥ 2.9, `AlignRequest`). An instant query is one interval (start, end].
import { QueryError } from "../errors";

export interface TimeFrame {
	/** Start of the first interval (exclusive), unix milliseconds. */
	startMs: number;
	stepMs: number;
	intervals: number;
	instant: boolean;
}

/** Tempo's max_intervals: more intervals than this is a 400 naming the smallest step allowed. */
export const MAX_INTERVALS = 10_000;

/**
 * A request time: unix seconds (≤ 10 digits), unix nanoseconds (more digits), fractional seconds,
 * or RFC 3339 — what Tempo's `parseTimestamp` accepts. Returns unix milliseconds.
 */
export function parseTime(text: string, name: string): number {
	const trimmed = text.trim();
	if (/^\d+$/.test(trimmed)) {
		if (trimmed.length <= 10) return Number(trimmed) * 1000;
		if (trimmed.length > 19) throw new QueryError(`${name} is out of range`);
		return Number(BigInt(trimmed) / 1_000_000n);
	}
	if (/^\d+\.\d+$/.test(trimmed)) return Number(trimmed) * 1000;
	if (/^\d{4}-\d\d-\d\dT/.test(trimmed)) {
		const ms = Date.parse(trimmed);
		if (Number.isFinite(ms)) return ms;
	}
	throw new QueryError(`${name} must be unix seconds, unix nanoseconds or RFC 3339, not ${JSON.stringify(trimmed.slice(0, 40))}`);
}

/** A step: bare (possibly fractional) seconds, or a Go duration (`30s`, `1m30s`, `500ms`). */
export function parseStep(text: string): number {
	const trimmed = text.trim();
	if (/^-/.test(trimmed)) throw new QueryError("step must not be negative");
	if (/^\d+(\.\d+)?$/.test(trimmed)) return Number(trimmed) * 1000;
	const parts = [...trimmed.matchAll(/(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/g)];
	if (parts.length > 0 && parts.map((p) => p[0]).join("") === trimmed) {
		const unitMs: Record<string, number> = { ns: 1e-6, us: 1e-3, "µs": 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
		return parts.reduce((sum, p) => sum + Number(p[1]) * unitMs[p[2]!]!, 0);
	}
	throw new QueryError(`step must be seconds or a duration like 30s, not ${JSON.stringify(trimmed.slice(0, 40))}`);
}

/** Tempo 3.0's default step: about 240 points, in round units. */
export function defaultStepMs(rangeMs: number): number {
	const baseline = rangeMs / 240;
	if (rangeMs < 60_000) return Math.max(50, Math.floor(baseline / 50) * 50);
	for (const unit of [3_600_000, 300_000, 60_000, 15_000, 5_000, 1_000]) {
		if (unit < baseline) return Math.max(1_000, Math.floor(baseline / unit) * unit);
	}
	return 1_000;
}

export function rangeFrame(startMs: number, endMs: number, stepMs: number): TimeFrame {
	if (!(stepMs > 0)) throw new QueryError("step of 0s is too small");
	const alignedStart = Math.floor(startMs / stepMs) * stepMs - stepMs;
	const alignedEnd = Math.ceil(endMs / stepMs) * stepMs;
	const intervals = Math.max(1, Math.round((alignedEnd - alignedStart) / stepMs));
	if ((endMs - startMs) / stepMs > MAX_INTERVALS) {
		throw new QueryError(`step of ${goDuration(stepMs * 1e6)} is too small, minimum step for given range is ${goDuration(Math.ceil((endMs - startMs) / MAX_INTERVALS) * 1e6)}`);
	}
	return { startMs: alignedStart, stepMs, intervals, instant: false };
}

export function instantFrame(startMs: number, endMs: number): TimeFrame {
	return { startMs, stepMs: endMs - startMs, intervals: 1, instant: true };
}

/** The interval a span starting at `startMs` falls in, or -1 outside the frame. */
export function intervalOf(frame: TimeFrame, startMs: number): number {
	const offset = startMs - frame.startMs;
	if (offset <= 0) return -1;
	const i = Math.ceil(offset / frame.stepMs) - 1;
	return i < frame.intervals ? i : -1;
}

/** The timestamp of interval i's sample: its end. */
export function sampleTimeMs(frame: TimeFrame, i: number): number {
	return frame.startMs + (i + 1) * frame.stepMs;
}

/** Go's time.Duration.String() for nanoseconds, as Tempo writes durations: `1.5s`, `24h0m0s`, `250ms`. */
export function goDuration(ns: number): string {
	if (ns === 0) return "0s";
	const sign = ns < 0 ? "-" : "";
	let n = Math.abs(Math.round(ns));
	if (n < 1e9) {
		const [unit, size] = n < 1e3 ? ["ns", 1] : n < 1e6 ? ["µs", 1e3] : ["ms", 1e6];
		return `${sign}${trimFraction(n / (size as number))}${unit}`;
	}
	const hours = Math.floor(n / 3600e9);
	n -= hours * 3600e9;
	const minutes = Math.floor(n / 60e9);
	n -= minutes * 60e9;
	const seconds = trimFraction(n / 1e9);
	if (hours > 0) return `${sign}${hours}h${minutes}m${seconds}s`;
	if (minutes > 0) return `${sign}${minutes}m${seconds}s`;
	return `${sign}${seconds}s`;
}

function trimFraction(value: number): string {
	return String(Number(value.toFixed(9)));
}
