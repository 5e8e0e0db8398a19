import { readFileSync } from 'node:fs';
import { expect, it } from 'vitest';
import { API_REFERENCE, renderApiReference } from '../scripts/api-reference.mjs';

it('docs/api.md is the reference rendered from the current wire schemas (run node sdk/scripts/api-reference.mjs)', async () => {
  const rendered: string = await renderApiReference();
  expect(rendered).toContain('`REQUEST_HEADERS_TOO_LARGE` | 431');
  expect(readFileSync(API_REFERENCE, 'utf8')).toBe(rendered);
});
