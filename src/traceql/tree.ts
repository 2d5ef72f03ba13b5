// The span tree of one index entry, for structural operators and the nested-set intrinsics.
// Built once per entry and evaluation from each span's parent id. A span whose parent is not in
// the entry (not yet arrived, or beyond the entry's span cap) starts a subtree of its own but is
// not a root: only a span without a parent id is (`nestedSetParent < 0`). A cycle in bad data is
// cut where the walk first re-enters it, so every walk here terminates.
import type { TraceEntry } from "../search/entry";

export interface TraceTree {
	/** Index of each span's parent in the entry, or -1 (a root, or a parent the entry lacks). */
	parent: Int32Array;
	/** Whether the span has no parent id: a root of the trace. */
	root: Uint8Array;
	/** Spans in depth-first pre-order: every parent before its children. */
	order: Int32Array;
	/** Tempo's nested-set numbers: left on entering, right on leaving, parent = the parent's left (-1 for a root, 0 when unknown). */
	left: Int32Array;
	right: Int32Array;
	nestedParent: Int32Array;
}

const trees = new WeakMap<TraceEntry, TraceTree>();

export function treeOf(entry: TraceEntry): TraceTree {
	let tree = trees.get(entry);
	if (!tree) trees.set(entry, (tree = buildTree(entry)));
	return tree;
}

function buildTree(entry: TraceEntry): TraceTree {
	const n = entry.spans.length;
	const byId = new Map<string, number>();
	entry.spans.forEach((span, i) => {
		if (!byId.has(span[0])) byId.set(span[0], i);
	});
	const linked = new Int32Array(n).fill(-1);
	const root = new Uint8Array(n);
	const children: number[][] = Array.from({ length: n }, () => []);
	entry.spans.forEach((span, i) => {
		const parentId = span[9];
		if (parentId === "") root[i] = 1;
		const p = parentId ? byId.get(parentId) : undefined;
		if (p !== undefined && p !== i) {
			linked[i] = p;
			children[p]!.push(i);
		}
	});
	// Children in start order, as Tempo numbers them.
	const startOf = (i: number) => entry.spans[i]![2];
	for (const list of children) if (list.length > 1) list.sort((a, b) => compareDecimal(startOf(a), startOf(b)) || a - b);
	const parent = new Int32Array(n).fill(-1);
	const left = new Int32Array(n);
	const right = new Int32Array(n);
	const nestedParent = new Int32Array(n);
	const order = new Int32Array(n);
	const visited = new Uint8Array(n);
	let counter = 0;
	let position = 0;
	const walk = (start: number) => {
		// Iterative depth-first walk: a deep chain must not exhaust the stack.
		const stack: [node: number, next: number][] = [[start, 0]];
		visited[start] = 1;
		left[start] = ++counter;
		order[position++] = start;
		while (stack.length > 0) {
			const top = stack[stack.length - 1]!;
			const kids = children[top[0]]!;
			if (top[1] < kids.length) {
				const child = kids[top[1]++]!;
				if (visited[child]) continue;
				visited[child] = 1;
				parent[child] = top[0];
				left[child] = ++counter;
				nestedParent[child] = left[top[0]]!;
				order[position++] = child;
				stack.push([child, 0]);
			} else {
				right[top[0]] = ++counter;
				stack.pop();
			}
		}
	};
	const tops = [...Array(n).keys()].filter((i) => linked[i] === -1).sort((a, b) => compareDecimal(startOf(a), startOf(b)) || a - b);
	for (const i of tops) {
		walk(i);
		nestedParent[i] = root[i] ? -1 : 0;
	}
	// Spans on a parent cycle were reached by no walk: start from each, in order.
	for (let i = 0; i < n; i++) {
		if (!visited[i]) {
			walk(i);
			nestedParent[i] = 0;
		}
	}
	return { parent, root, order, left, right, nestedParent };
}

/** Compares two non-negative decimal strings (nanosecond timestamps) numerically. */
function compareDecimal(a: string, b: string): number {
	return a.length - b.length || (a < b ? -1 : a > b ? 1 : 0);
}
