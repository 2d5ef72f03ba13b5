// The names a TraceQL query may use for a span's or trace's own fields (intrinsics), in one table:
// the parser reads them, the tag routes list them, and metrics write them back as label keys.
// Tempo's canonical spelling (`Attribute.String()`) is the bare name: `span:name` is written back
// as `name`, `trace:rootService` as `rootServiceName` (Grafana's Drilldown reads series labels by
// the exact text it grouped by, so the listed names are the canonical ones).

export type Intrinsic =
	| "name"
	| "status"
	| "statusMessage"
	| "kind"
	| "duration"
	| "traceDuration"
	| "rootName"
	| "rootServiceName"
	| "nestedSetLeft"
	| "nestedSetRight"
	| "nestedSetParent";

/** Every accepted spelling of an intrinsic, scoped colon forms included. */
export const INTRINSIC_NAMES: Readonly<Record<string, Intrinsic>> = {
	name: "name",
	status: "status",
	statusMessage: "statusMessage",
	kind: "kind",
	duration: "duration",
	traceDuration: "traceDuration",
	rootName: "rootName",
	rootServiceName: "rootServiceName",
	nestedSetLeft: "nestedSetLeft",
	nestedSetRight: "nestedSetRight",
	nestedSetParent: "nestedSetParent",
	"span:name": "name",
	"span:status": "status",
	"span:statusMessage": "statusMessage",
	"span:kind": "kind",
	"span:duration": "duration",
	"trace:duration": "traceDuration",
	"trace:rootName": "rootName",
	"trace:rootService": "rootServiceName",
};

/**
 * The intrinsics the tag routes list (Tempo's `intrinsic` scope), canonical names only: a scoped
 * form like `span:name` would come back from a Drilldown breakdown as a `name` label and break it.
 * The nested-set numbers are left out: they work in queries and select, but the Drilldown hides them.
 */
export const LISTED_INTRINSICS: readonly Intrinsic[] = ["duration", "kind", "name", "rootName", "rootServiceName", "status", "statusMessage", "traceDuration"];

/** Intrinsics Tempo knows that the index does not hold: named in a 400 rather than "unknown". */
export const UNSUPPORTED_INTRINSICS: ReadonlySet<string> = new Set([
	"parent",
	"childCount",
	"event:name",
	"event:timeSinceStart",
	"link:traceID",
	"link:spanID",
	"instrumentation:name",
	"instrumentation:version",
	"span:id",
	"trace:id",
	"span:parentID",
	"span:childCount",
	"id",
	"traceID",
	"spanID",
]);

export const STATUS_KEYWORDS: Readonly<Record<string, number>> = { unset: 0, ok: 1, error: 2 };
export const KIND_KEYWORDS: Readonly<Record<string, number>> = { unspecified: 0, internal: 1, server: 2, client: 3, producer: 4, consumer: 5 };

export function statusName(code: number): string {
	return Object.keys(STATUS_KEYWORDS).find((k) => STATUS_KEYWORDS[k] === code) ?? String(code);
}

export function kindName(code: number): string {
	return Object.keys(KIND_KEYWORDS).find((k) => KIND_KEYWORDS[k] === code) ?? String(code);
}
