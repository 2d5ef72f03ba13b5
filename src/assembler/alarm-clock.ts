// The object's one alarm, known in memory so it is set only when it must move: every setAlarm()
// is billed as a row written. Loaded once at start-up; the platform clears an alarm after its
// handler runs, so `fired` forgets it.
import { setAlarmCounted } from "../metering/usage";

export class AlarmClock {
	readonly #storage: DurableObjectStorage;
	#at: number | null = null;

	/** `stored`: whether the object has storage; an object without any has never set an alarm. */
	constructor(ctx: DurableObjectState, stored: boolean) {
		this.#storage = ctx.storage;
		// A new trace's object starts without this read: most objects are created by their first part.
		if (stored) {
			void ctx.blockConcurrencyWhile(async () => {
				this.#at = await ctx.storage.getAlarm();
			});
		}
	}

	/** When the alarm is set for (ms since epoch), or null. */
	get at(): number | null {
		return this.#at;
	}

	/** Makes sure the alarm fires at `at` or sooner: sets it only if none is set at or before `at`. */
	atOrBefore(at: number): Promise<void> | undefined {
		if (this.#at !== null && this.#at <= at) return undefined;
		return this.set(at);
	}

	/** Sets the alarm to `at`, earlier or later than it was. */
	set(at: number): Promise<void> {
		this.#at = at;
		return setAlarmCounted(this.#storage, at);
	}

	/** Called as the alarm handler starts: returns when the alarm was set for, and forgets it. */
	fired(): number | null {
		const at = this.#at;
		this.#at = null;
		return at;
	}

	/** After deleteAll(), which removes the alarm too. */
	cleared(): void {
		this.#at = null;
	}
}
