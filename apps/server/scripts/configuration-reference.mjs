/**
 * docs/configuration.md, every configuration key, rendered from src/config/config.schema.ts: types, defaults and
 * bounds from the schema the node validates its configuration with, descriptions from the doc comments (or
 * `description` annotations) written beside each key there, so the reference cannot drift from either.
 *   node scripts/configuration-reference.mjs    writes docs/configuration.md (src/config/config-reference.test.ts
 *                                                checks it is current)
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build } from 'esbuild';
import ts from 'typescript';

export const CONFIGURATION_REFERENCE = fileURLToPath(new URL('../../../docs/configuration.md', import.meta.url));
const SCHEMA_SOURCE = fileURLToPath(new URL('../src/config/config.schema.ts', import.meta.url));

/**
 * The schema and the environment-variable naming exactly as the node uses them, straight from the source: compiled
 * into node_modules/.cache so that their own imports resolve from this package.
 */
async function loadConfigModule() {
  const outfile = fileURLToPath(new URL('../node_modules/.cache/configuration-reference.mjs', import.meta.url));
  await build({
    stdin: {
      contents: `export { ConfigSchema } from './config.schema.ts'; export { envName } from './load-config.ts';`,
      resolveDir: dirname(SCHEMA_SOURCE),
      loader: 'ts',
    },
    bundle: true,
    packages: 'external',
    outfile,
    format: 'esm',
    platform: 'node',
  });
  return import(`${pathToFileURL(outfile).href}?${Date.now()}`);
}

/** The doc comment above each key of ConfigSchema in the source, by dotted path (`http.port`). */
function docComments() {
  const source = ts.createSourceFile(SCHEMA_SOURCE, readFileSync(SCHEMA_SOURCE, 'utf8'), ts.ScriptTarget.Latest, true);
  const comments = new Map();
  const firstObjectLiteral = (node) => {
    if (node === undefined) return undefined;
    if (ts.isObjectLiteralExpression(node)) return node;
    if (ts.isCallExpression(node)) return firstObjectLiteral(node.arguments[0]);
    return undefined;
  };
  const visitObject = (literal, path) => {
    for (const property of literal.properties) {
      if (!ts.isPropertyAssignment(property)) continue;
      const key = [...path, property.name.getText(source)].join('.');
      const text = ts
        .getJSDocCommentsAndTags(property)
        .map((doc) => ts.getTextOfJSDocComment(doc.comment) ?? '')
        .join(' ')
        .replace(/\s+/g, ' ')
        .trim();
      if (text !== '') comments.set(key, text);
      const nested = firstObjectLiteral(property.initializer);
      if (nested !== undefined) visitObject(nested, key.split('.'));
    }
  };
  ts.forEachChild(source, function find(node) {
    if (ts.isVariableDeclaration(node) && node.name.getText(source) === 'ConfigSchema') {
      visitObject(firstObjectLiteral(node.initializer), []);
    } else ts.forEachChild(node, find);
  });
  return comments;
}

const cell = (text) => String(text).replaceAll('|', '\\|');
const code = (value) => `\`${cell(typeof value === 'string' ? value : JSON.stringify(value))}\``;

function typeOf(schema) {
  if (schema.const !== undefined) return code(schema.const);
  if (schema.anyOf !== undefined) return schema.anyOf.map(typeOf).join(' \\| ');
  if (schema.type === 'array') return `list of ${typeOf(schema.items)}`;
  return schema.type ?? 'any';
}

function bounds(schema) {
  const parts = [];
  if (schema.minimum !== undefined) parts.push(`≥ ${schema.minimum}`);
  if (schema.exclusiveMinimum !== undefined) parts.push(`> ${schema.exclusiveMinimum}`);
  if (schema.maximum !== undefined) parts.push(`≤ ${schema.maximum}`);
  if (schema.minLength !== undefined) parts.push(`at least ${schema.minLength} characters`);
  if (schema.maxLength !== undefined) parts.push(`at most ${schema.maxLength} characters`);
  if (schema.minItems !== undefined) parts.push(`at least ${schema.minItems} items`);
  if (schema.pattern !== undefined) parts.push(code(schema.pattern));
  if (schema.items !== undefined) parts.push(...bounds(schema.items).map((part) => `each ${part}`));
  return parts;
}

/** One table per section (an object of scalar keys), in schema order. */
function sections(schema, path, comments, envName, out) {
  const rows = [];
  const nested = [];
  for (const [key, child] of Object.entries(schema.properties)) {
    const childPath = [...path, key];
    const dotted = childPath.join('.');
    if (child.type === 'object' && child.properties !== undefined) {
      nested.push([child, childPath]);
      continue;
    }
    const required = schema.required?.includes(key) && child.default === undefined;
    const fallback = child.default !== undefined ? code(child.default) : required ? '(required)' : '(unset)';
    const description = child.description ?? comments.get(dotted) ?? '';
    rows.push(
      `| \`${dotted}\` | ${typeOf(child)} | ${fallback} | ${cell(bounds(child).join(', '))} | \`${envName(childPath)}\` | ${cell(description)} |`,
    );
  }
  if (rows.length > 0) {
    const about = path.length === 0 ? '' : (schema.description ?? comments.get(path.join('.')) ?? '');
    out.push(
      `## \`${path.join('.') || '(top level)'}\`\n\n${about === '' ? '' : `${about}\n\n`}` +
        '| key | type | default | bounds | environment variable | description |\n|---|---|---|---|---|---|\n' +
        rows.join('\n'),
    );
  }
  for (const [child, childPath] of nested) sections(child, childPath, comments, envName, out);
}

export async function renderConfigurationReference() {
  const { ConfigSchema, envName } = await loadConfigModule();
  const out = [];
  sections(ConfigSchema, [], docComments(), envName, out);
  return `# Configuration reference

Generated from \`apps/server/src/config/config.schema.ts\` by \`node apps/server/scripts/configuration-reference.mjs\`
(\`npx pnpm@10.34.8 --filter @ipubsub/server run configuration-reference\`): do not edit by hand.

A node reads one YAML file (\`--config <file>\`, or the \`IPUBSUB_CONFIG\` environment variable); every key
can be overridden by its environment variable, which wins over the file. Lists are given to environment
variables comma-separated (\`IPUBSUB_CLUSTER_SEEDS=10.0.0.1:7901,10.0.0.2:7901\`). The node checks the result
against the schema when it starts and refuses to start, naming the key, when a value is missing, of the wrong
type, out of bounds or unknown. Keys not set take the default shown; \`(unset)\` means the key is optional and
has no default (its description says what happens then).

${out.join('\n\n')}
`;
}

if (process.argv[1] === fileURLToPath(import.meta.url))
  writeFileSync(CONFIGURATION_REFERENCE, await renderConfigurationReference());
