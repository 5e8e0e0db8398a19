import type { TokenSource } from './types.js';

/** The request's headers with `authorization: Bearer <token>`, from the token or the function giving it. */
export async function withToken(
  headers: HeadersInit | undefined,
  token: TokenSource,
  refresh: boolean,
): Promise<HeadersInit> {
  const value = typeof token === 'string' ? token : await token({ refresh });
  return { ...(headers as Record<string, string>), authorization: `Bearer ${value}` };
}
