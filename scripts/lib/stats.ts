// The statistics every script reports with, in one place so that "median" means one thing.

/** The true median: the middle value, or the mean of the two middle values of an even count. */
export function median(xs: readonly number[]): number {
	if (xs.length === 0) return Number.NaN;
	const sorted = [...xs].sort((a, b) => a - b);
	const middle = sorted.length >> 1;
	return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

/** The q-quantile by nearest rank (p99 of 1,000 samples is the 991st smallest); q = 0.5 is the true median. */
export function quantile(xs: readonly number[], q: number): number {
	if (q === 0.5) return median(xs);
	if (xs.length === 0) return Number.NaN;
	const sorted = [...xs].sort((a, b) => a - b);
	return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}
