import { Ajv, type ValidateFunction } from 'ajv';
import type { FastifySchemaCompiler } from 'fastify';

/**
 * Bodies are validated strictly (no type coercion, unknown fields rejected); query strings are text, so their
 * numbers and booleans are coerced. Each schema is compiled once, when its route is registered.
 */
export class Validation {
  private readonly strict = new Ajv({
    coerceTypes: false,
    useDefaults: false,
    removeAdditional: false,
    allErrors: false,
    strict: false,
  });
  private readonly coercing = new Ajv({
    coerceTypes: true,
    useDefaults: false,
    removeAdditional: false,
    allErrors: false,
    strict: false,
  });

  body(schema: object): ValidateFunction {
    return this.strict.compile(schema);
  }

  query(schema: object): ValidateFunction {
    return this.coercing.compile(schema);
  }

  /** For Fastify's routes (Nest's instance). */
  readonly compile: FastifySchemaCompiler<unknown> = ({ schema, httpPart }) =>
    httpPart === 'querystring' ? this.query(schema as object) : this.body(schema as object);
}

/** The first thing wrong with a request part, as `body/streamId must match pattern "…"`. */
export function describeInvalid(part: 'body' | 'query', validate: ValidateFunction): string {
  const error = validate.errors?.[0];
  return error === undefined ? `${part} is invalid` : `${part}${error.instancePath} ${error.message ?? 'is invalid'}`;
}
