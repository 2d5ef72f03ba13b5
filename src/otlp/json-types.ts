// The OTLP/JSON shapes the read API and the live WebSocket write (src/otlp/json-out.ts): hex ids,
// integer enums, 64-bit integers as strings, empty fields omitted (proto3 JSON). Types only, no
// code: the web viewer (src/ui/) imports them too.

export interface OtlpTracesData {
	resourceSpans?: OtlpResourceSpans[];
}

export interface OtlpResourceSpans {
	resource?: { attributes?: OtlpKeyValue[]; droppedAttributesCount?: number };
	scopeSpans?: OtlpScopeSpans[];
	schemaUrl?: string;
}

export interface OtlpScopeSpans {
	scope?: { name?: string; version?: string; attributes?: OtlpKeyValue[] };
	spans?: OtlpSpan[];
	schemaUrl?: string;
}

export interface OtlpSpan {
	traceId: string;
	spanId: string;
	parentSpanId?: string;
	traceState?: string;
	name?: string;
	/** 0 unspecified, 1 internal, 2 server, 3 client, 4 producer, 5 consumer. */
	kind?: number;
	startTimeUnixNano?: string;
	endTimeUnixNano?: string;
	attributes?: OtlpKeyValue[];
	events?: OtlpEvent[];
	links?: OtlpLink[];
	status?: OtlpStatus;
	droppedAttributesCount?: number;
	droppedEventsCount?: number;
	droppedLinksCount?: number;
}

export interface OtlpStatus {
	message?: string;
	/** 0 unset, 1 ok, 2 error. */
	code?: number;
}

export interface OtlpEvent {
	timeUnixNano?: string;
	name?: string;
	attributes?: OtlpKeyValue[];
}

export interface OtlpLink {
	traceId: string;
	spanId: string;
	traceState?: string;
	attributes?: OtlpKeyValue[];
}

export interface OtlpKeyValue {
	key: string;
	value?: OtlpAnyValue;
}

export interface OtlpAnyValue {
	stringValue?: string;
	boolValue?: boolean;
	intValue?: string | number;
	doubleValue?: number;
	arrayValue?: { values?: OtlpAnyValue[] };
	kvlistValue?: { values?: OtlpKeyValue[] };
	bytesValue?: string;
}
