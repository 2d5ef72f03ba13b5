// Byte strings as Map/Set keys. JavaScript compares Uint8Arrays by identity, so content keys are
// one UTF-16 code unit per byte (injective, and cheap for the short ids this is used on).

export function bytesKey(bytes: Uint8Array): string {
	let key = "";
	// fromCharCode.apply is bounded by the engine's argument limit: go in slices.
	for (let i = 0; i < bytes.length; i += 8192) {
		key += String.fromCharCode.apply(null, bytes.subarray(i, i + 8192) as unknown as number[]);
	}
	return key;
}

/** Gives one canonical array per distinct content, so writers that group by identity merge equal heads. */
export class Interner {
	readonly #byContent = new Map<string, Uint8Array>();
	readonly #byIdentity = new Map<Uint8Array, Uint8Array>();

	intern(bytes: Uint8Array): Uint8Array {
		let canonical = this.#byIdentity.get(bytes);
		if (canonical) return canonical;
		const key = bytesKey(bytes);
		canonical = this.#byContent.get(key);
		if (!canonical) this.#byContent.set(key, (canonical = bytes));
		this.#byIdentity.set(bytes, canonical);
		return canonical;
	}
}
