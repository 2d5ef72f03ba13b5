// Where a trace lives: its Durable Object's name and its R2 key. Both carry the tenant, so two
// tenants sending the same trace id never share an object or an object key.

export interface TraceAddress {
	/** "" for the default tenant (a token without a tenant, or anonymous access). */
	readonly tenant: string;
	/** 32 lowercase hex digits. */
	readonly traceId: string;
}

const TRACE_ID = /^[0-9a-fA-F]{32}$/;
const ZERO_ID = /^0{32}$/;

/** A trace id from a URL or a JSON body: 32 hex digits in either case, not all zero. */
export function parseTraceId(raw: string): string | undefined {
	return TRACE_ID.test(raw) && !ZERO_ID.test(raw) ? raw.toLowerCase() : undefined;
}

/** The name passed to `getByName` for the trace's object. */
export function objectName(address: TraceAddress): string {
	return address.tenant ? `${address.tenant}/${address.traceId}` : address.traceId;
}

/** The R2 key of the finalized trace: `traces/<id>.binpb`, under `tenants/<tenant>/` for a tenant. */
export function traceKey(address: TraceAddress): string {
	const key = `traces/${address.traceId}.binpb`;
	return address.tenant ? `tenants/${address.tenant}/${key}` : key;
}
