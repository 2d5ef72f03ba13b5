// Cloudflare list prices (USD) that decide what a span costs: the marginal prices on Workers Paid,
// past the included amounts, and the Workers Free daily limits. Read 2026-11 from:
//   https://developers.cloudflare.com/workers/platform/pricing/
//   https://developers.cloudflare.com/durable-objects/platform/pricing/
//   https://developers.cloudflare.com/r2/pricing/
// Re-check these pages before publishing a figure. The only place prices live in this repository.
export const PRICES_READ = "2026-11";

/** USD per million units on Workers Paid. */
export const USD_PER_MILLION = {
	/** SQLite rows written: each INSERT/UPDATE/DELETE row, each index touched, each setAlarm(). */
	rowsWritten: 1.0,
	rowsRead: 0.001,
	/** Durable Object requests: each RPC method call, fetch and alarm. */
	doRequests: 0.15,
	/** R2 Class A: PUT, LIST, multipart. */
	r2ClassA: 4.5,
	/** R2 Class B: GET, HEAD. */
	r2ClassB: 0.36,
	workerRequests: 0.3,
} as const;

/** Included per month on Workers Paid ($5/month minimum). */
export const PAID_INCLUDED_PER_MONTH = { rowsWritten: 50_000_000, rowsRead: 25_000_000_000, doRequests: 1_000_000, r2ClassA: 1_000_000, r2ClassB: 10_000_000, workerRequests: 10_000_000 } as const;

/** Workers Free: writes past a daily limit fail until 00:00 UTC. */
export const FREE_PER_DAY = { rowsWritten: 100_000, doRequests: 100_000, workerRequests: 100_000, rowsRead: 5_000_000 } as const;

/** Queues (Workers Paid, 1 M operations a month included): each 64 KB written, read or deleted is one operation. */
export const QUEUE_USD_PER_MILLION_OPERATIONS = 0.4;
