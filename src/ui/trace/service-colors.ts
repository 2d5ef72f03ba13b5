// One colour per service, distinct for the first dozen services a page meets (a hash would put two
// of four services in the same colour now and then), and the same for a service on every page
// until the next load.
const PALETTE = ["#3b82c4", "#d9822b", "#2f9e6e", "#9b59b6", "#c0504d", "#1aa3a3", "#8c6d31", "#d45fa5", "#5b6bd6", "#6a9a23", "#b8860b", "#4a7f9c"];
const assigned = new Map<string, string>();

export function serviceColor(service: string): string {
	let color = assigned.get(service);
	if (!color) assigned.set(service, (color = PALETTE[assigned.size % PALETTE.length]!));
	return color;
}
