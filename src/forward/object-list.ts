// The shape both forwarding variables share (FORWARD_DESTINATIONS, SAMPLING_RULES): a JSON array
// of objects with known keys. Checked here once, with the place of a mistake (`NAME[i]`) in the
// message, so each parser checks only its own fields.
import { ConfigError } from "../config";

export interface ListedObject {
	/** `NAME[i]`, for messages. */
	where: string;
	fields: Record<string, unknown>;
}

/** The objects of `variable`'s JSON array (none when unset), at most `max` of them. */
export function parseObjectList(variable: string, raw: string | undefined, noun: string, max: number): ListedObject[] {
	if (raw === undefined || raw.trim() === "") return [];
	let parsed: unknown;
	try {
		parsed = JSON.parse(raw);
	} catch (e) {
		throw new ConfigError(`${variable} is not JSON: ${e instanceof Error ? e.message : String(e)}`);
	}
	if (!Array.isArray(parsed)) throw new ConfigError(`${variable} must be a JSON array of ${noun}s`);
	if (parsed.length > max) throw new ConfigError(`${variable}: at most ${max} ${noun}s`);
	return parsed.map((item: unknown, i) => {
		const where = `${variable}[${i}]`;
		if (typeof item !== "object" || item === null || Array.isArray(item)) throw new ConfigError(`${where} must be an object`);
		return { where, fields: item as Record<string, unknown> };
	});
}

/** Refuses a key outside `known`, naming the ones that are. */
export function refuseUnknownKeys({ where, fields }: ListedObject, known: ReadonlySet<string>): void {
	for (const key of Object.keys(fields)) if (!known.has(key)) throw new ConfigError(`${where}: unknown key ${JSON.stringify(key)} (expected ${[...known].join(", ")})`);
}
