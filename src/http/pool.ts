/**
 * Runs `task` over `items` with at most `limit` running at once and waits for all of them.
 * Returns the errors of the tasks that failed (a failure does not stop the others).
 */
export async function runLimited<T>(items: Iterable<T>, limit: number, task: (item: T) => Promise<void>): Promise<unknown[]> {
	const queue = [...items];
	const errors: unknown[] = [];
	let next = 0;
	const worker = async () => {
		while (next < queue.length) {
			const item = queue[next++]!;
			try {
				await task(item);
			} catch (e) {
				errors.push(e);
			}
		}
	};
	await Promise.all(Array.from({ length: Math.min(limit, queue.length) }, worker));
	return errors;
}
