import { readFileSync } from 'node:fs';
import { expect, it } from 'vitest';
import { CONFIGURATION_REFERENCE, renderConfigurationReference } from '../../scripts/configuration-reference.mjs';
import { ConfigSchema } from './config.schema.js';
import { envName } from './load-config.js';

/** Every leaf key of the schema as a path, in order. */
function leafKeys(schema: { properties?: Record<string, unknown> }, path: string[] = []): string[][] {
  return Object.entries(schema.properties ?? {}).flatMap(([key, child]) => {
    const childSchema = child as { type?: string; properties?: Record<string, unknown> };
    return childSchema.type === 'object' && childSchema.properties !== undefined
      ? leafKeys(childSchema, [...path, key])
      : [[...path, key]];
  });
}

it('docs/configuration.md is rendered from the current config schema (run node apps/server/scripts/configuration-reference.mjs)', async () => {
  const rendered: string = await renderConfigurationReference();
  expect(readFileSync(CONFIGURATION_REFERENCE, 'utf8')).toBe(rendered);
});

it('lists every key with its environment variable and a description (a doc comment in config.schema.ts)', async () => {
  const rendered: string = await renderConfigurationReference();
  const keys = leafKeys(ConfigSchema);
  expect(keys.length).toBeGreaterThan(20);
  for (const path of keys) {
    const row = rendered.split('\n').find((line) => line.startsWith(`| \`${path.join('.')}\` |`));
    expect(row, `no row for ${path.join('.')}`).toBeDefined();
    expect(row).toContain(`\`${envName(path)}\``);
    const description = row!.split(' | ').at(-1)!.replace(/\|$/, '').trim();
    expect(description, `${path.join('.')} has no doc comment in config.schema.ts`).not.toBe('');
  }
  expect(rendered).toContain('| `limits.maxStreams` | integer | `5000000` | ≥ 1 | `IPUBSUB_LIMITS_MAXSTREAMS` |');
});
