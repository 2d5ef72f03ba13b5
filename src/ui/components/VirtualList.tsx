// A scrolling list that knows only row positions: rows are a fixed height, and only those in view
// (plus a few either side) are in the DOM, so a 10,000-span trace scrolls like a 20-span one.
import type { ComponentChildren, Ref } from "preact";
import { useEffect, useLayoutEffect, useRef, useState } from "preact/hooks";

const OVERSCAN_ROWS = 8;

export interface VirtualListProps {
	count: number;
	rowHeight: number;
	renderRow: (index: number, top: number) => ComponentChildren;
	/** Scrolled into view when it changes (keyboard navigation). */
	scrollToIndex?: number;
	containerRef?: Ref<HTMLDivElement>;
	onKeyDown?: (e: KeyboardEvent) => void;
}

export function VirtualList({ count, rowHeight, renderRow, scrollToIndex, containerRef, onKeyDown }: VirtualListProps) {
	const ownRef = useRef<HTMLDivElement>(null);
	const [scrollTop, setScrollTop] = useState(0);
	const [viewport, setViewport] = useState(600);
	const frame = useRef(0);

	useLayoutEffect(() => {
		const el = ownRef.current!;
		setViewport(el.clientHeight || 600);
		const observer = new ResizeObserver(() => setViewport(el.clientHeight || 600));
		observer.observe(el);
		return () => observer.disconnect();
	}, []);

	useEffect(() => {
		const el = ownRef.current;
		if (!el || scrollToIndex === undefined || scrollToIndex < 0) return;
		const top = scrollToIndex * rowHeight;
		if (top < el.scrollTop) el.scrollTop = top;
		else if (top + rowHeight > el.scrollTop + el.clientHeight) el.scrollTop = top + rowHeight - el.clientHeight;
	}, [scrollToIndex]);

	const onScroll = () => {
		cancelAnimationFrame(frame.current);
		frame.current = requestAnimationFrame(() => setScrollTop(ownRef.current?.scrollTop ?? 0));
	};

	const first = Math.max(0, Math.floor(scrollTop / rowHeight) - OVERSCAN_ROWS);
	const last = Math.min(count, Math.ceil((scrollTop + viewport) / rowHeight) + OVERSCAN_ROWS);
	const rows: ComponentChildren[] = [];
	for (let i = first; i < last; i++) rows.push(renderRow(i, i * rowHeight));

	return (
		<div
			class="virtual-list"
			tabIndex={0}
			onScroll={onScroll}
			onKeyDown={onKeyDown}
			ref={(el) => {
				ownRef.current = el;
				if (typeof containerRef === "function") containerRef(el);
				else if (containerRef) containerRef.current = el;
			}}
		>
			<div class="virtual-list-inner" style={{ height: `${count * rowHeight}px` }}>
				{rows}
			</div>
		</div>
	);
}
