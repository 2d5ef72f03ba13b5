// Every API call of the viewer: same origin, the stored token as Authorization: Bearer, and a 401
// turned into the token prompt (the page re-runs the call once a token is saved).
import { setState } from "../state/store.ts";
import { forgetToken, storedToken, storeToken } from "./auth-token.ts";

/** The API answered 401; the prompt is open and the caller should stop quietly. */
export class AuthRequired extends Error {}

/** A non-2xx answer, with the server's google.rpc.Status message when there is one. */
export class ApiError extends Error {
	constructor(
		readonly status: number,
		message: string,
	) {
		super(message);
	}
}

/**
 * A request sent without a token was answered without a 401: the server lets anonymous callers
 * read. Only token-less answers count: an answer to a request that still carried a token, landing
 * after "Forget token", says nothing about the server accepting us without one (it used to, and
 * the page then opened a token-less WebSocket that the browser logged as refused).
 */
let anonymousAccepted = false;

/** A token is stored, or the server has not asked for one: a WebSocket need not wait for a first answer. */
export function authLikelyAccepted(): boolean {
	return storedToken() !== undefined || anonymousAccepted;
}

export async function apiFetch(path: string, init: RequestInit = {}): Promise<Response> {
	const headers = new Headers(init.headers);
	const token = storedToken();
	if (token) headers.set("authorization", `Bearer ${token}`);
	const response = await fetch(path, { ...init, headers });
	if (!token) anonymousAccepted = response.status !== 401;
	if (response.status === 401) {
		const message = await errorMessage(response);
		setState((s) => ({ auth: { ...s.auth, needed: true, message: token ? message : undefined, hasToken: token !== undefined } }));
		throw new AuthRequired(message);
	}
	return response;
}

export async function apiJson<T>(path: string): Promise<T> {
	const response = await apiFetch(path, { headers: { accept: "application/json" } });
	if (!response.ok) throw new ApiError(response.status, await errorMessage(response));
	return (await response.json()) as T;
}

export async function errorMessage(response: Response): Promise<string> {
	try {
		const body = (await response.json()) as { message?: unknown };
		if (typeof body.message === "string") return body.message;
	} catch {
		// Not a JSON error body (a HEAD, or a proxy's page): the status line says enough.
	}
	return `${response.status} ${response.statusText}`.trim();
}

export function saveToken(token: string): void {
	storeToken(token);
	setState((s) => ({ auth: { needed: false, hasToken: true, epoch: s.auth.epoch + 1 } }));
}

export function dropToken(): void {
	forgetToken();
	setState((s) => ({ auth: { ...s.auth, hasToken: false, epoch: s.auth.epoch + 1 } }));
}

export function initAuthState(): void {
	setState((s) => ({ auth: { ...s.auth, hasToken: storedToken() !== undefined } }));
}

export const isAuthRequired = (e: unknown): boolean => e instanceof AuthRequired;
