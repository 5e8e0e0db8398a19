import { readFileSync } from 'node:fs';
import { getHeapStatistics } from 'node:v8';
import { Kind, type Static, type TSchema } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { parse as parseYaml } from 'yaml';
import { ConfigSchema, type AppConfig } from './config.schema.js';
import { ConfigError } from './config-error.js';
import { checkSafeDefaults } from './safe-defaults.js';

export const ENV_PREFIX = 'IPUBSUB_';

/** Environment variable that overrides a key path: `['http', 'port']` → `IPUBSUB_HTTP_PORT`. */
export function envName(path: readonly string[]): string {
  return ENV_PREFIX + path.map((part) => part.toUpperCase()).join('_');
}

/**
 * Loads the YAML file (if any), applies `IPUBSUB_*` overrides and defaults, and validates the result.
 * Throws ConfigError naming the offending key, or the keys of an unsafe combination (`checkSafeDefaults`).
 */
export function loadConfig(file: string | undefined, env: NodeJS.ProcessEnv = process.env): AppConfig {
  const raw = file === undefined ? {} : readYaml(file);
  const sources = new Map<string, string>();
  applyEnv(ConfigSchema, raw, [], env, sources);
  const config = Value.Default(ConfigSchema, raw);
  const firstError = Value.Errors(ConfigSchema, config).First();
  if (firstError !== undefined) {
    const key = firstError.path.split('/').filter(Boolean).join('.') || '(root)';
    const from = sources.get(key) ?? (file === undefined ? 'defaults' : file);
    throw new ConfigError(
      `invalid configuration key "${key}" (from ${from}): ${describeError(firstError.schema, firstError.message)}`,
    );
  }
  checkSafeDefaults(config as AppConfig);
  const loaded = config as Static<typeof ConfigSchema>;
  if (loaded.http.requestTimeoutSeconds < loaded.http.headersTimeoutSeconds) {
    throw new ConfigError(
      `invalid configuration key "http.requestTimeoutSeconds" (from ${sources.get('http.requestTimeoutSeconds') ?? file ?? 'defaults'}): ` +
        `must be at least http.headersTimeoutSeconds (${loaded.http.headersTimeoutSeconds}), since the request includes its headers`,
    );
  }
  return withMemoryBudget(loaded, sources.get('limits.maxBufferedBytes') ?? file);
}

/**
 * `limits.maxBufferedBytes` from the V8 heap limit: a quarter by default, since parsed messages take more heap
 * than their JSON (and requests being read take some too); more than half would let sends exhaust the heap.
 */
function withMemoryBudget(config: Static<typeof ConfigSchema>, from: string | undefined): AppConfig {
  const heapLimit = getHeapStatistics().heap_size_limit;
  const configured = config.limits.maxBufferedBytes;
  if (configured !== undefined && configured > heapLimit / 2) {
    throw new ConfigError(
      `invalid configuration key "limits.maxBufferedBytes" (from ${from ?? 'defaults'}): ${configured} bytes is ` +
        `more than half of the V8 heap limit (${heapLimit} bytes); lower it or raise node --max-old-space-size`,
    );
  }
  return { ...config, limits: { ...config.limits, maxBufferedBytes: configured ?? Math.floor(heapLimit / 4) } };
}

/** TypeBox says "Expected union value" for a bad choice; an operator needs the allowed ones. */
function describeError(schema: TSchema, message: string): string {
  const choices = (schema.anyOf as TSchema[] | undefined)?.map((option): unknown => option.const);
  if (choices === undefined || choices.some((choice) => choice === undefined)) return message;
  return `expected one of ${choices.map((choice) => JSON.stringify(choice)).join(', ')}`;
}

function readYaml(file: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(`cannot read config file ${file}: ${(err as Error).message}`);
  }
  let parsed: unknown;
  try {
    parsed = parseYaml(text);
  } catch (err) {
    throw new ConfigError(`config file ${file} is not valid YAML: ${(err as Error).message}`);
  }
  if (parsed === null || parsed === undefined) return {};
  if (typeof parsed !== 'object' || Array.isArray(parsed))
    throw new ConfigError(`config file ${file} must hold a mapping`);
  return parsed as Record<string, unknown>;
}

/** Walks the schema and writes every `IPUBSUB_*` variable that names a key into `target`, typed by the schema. */
function applyEnv(
  schema: TSchema,
  target: Record<string, unknown>,
  path: string[],
  env: NodeJS.ProcessEnv,
  sources: Map<string, string>,
): void {
  for (const [key, child] of Object.entries(schema.properties as Record<string, TSchema>)) {
    const childPath = [...path, key];
    if (child[Kind] === 'Object') {
      const existing = target[key];
      // A scalar or list where a section belongs is left for validation to report; an empty YAML section
      // (`http:` with nothing under it) reads as null and counts as an empty one.
      if (existing !== undefined && existing !== null && (typeof existing !== 'object' || Array.isArray(existing)))
        continue;
      const nested = (existing ?? {}) as Record<string, unknown>;
      applyEnv(child, nested, childPath, env, sources);
      if (Object.keys(nested).length > 0 || existing !== undefined) target[key] = nested;
      continue;
    }
    const name = envName(childPath);
    const value = env[name];
    if (value === undefined) continue;
    target[key] = fromEnv(child, value);
    sources.set(childPath.join('.'), `environment variable ${name}`);
  }
}

function fromEnv(schema: TSchema, value: string): unknown {
  switch (schema[Kind]) {
    case 'Integer':
    case 'Number':
      return value.trim() === '' ? value : Number(value);
    case 'Boolean':
      return value === 'true' ? true : value === 'false' ? false : value;
    case 'Union': {
      // A number or a word (`node.workers: 4 | auto`): digits are the number.
      const numeric = (schema.anyOf as TSchema[]).some(
        (option) => option[Kind] === 'Integer' || option[Kind] === 'Number',
      );
      return numeric && /^\s*-?\d+(\.\d+)?\s*$/.test(value) ? Number(value) : value;
    }
    case 'Array':
      return value.trim() === '' ? [] : value.split(',').map((item) => item.trim());
    default:
      return value;
  }
}
