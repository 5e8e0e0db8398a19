/**
 * docs/api.md, the HTTP API reference, rendered from the wire schemas (src/wire.ts): the source the server
 * validates with and the SDK's types come from, so the reference cannot drift from either.
 *   node scripts/api-reference.mjs       writes docs/api.md (sdk/test/api-reference.test.ts checks it is current)
 */
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { loadWire } from './load-wire.mjs';

export const API_REFERENCE = fileURLToPath(new URL('../../docs/api.md', import.meta.url));

const cell = (text) => String(text).replaceAll('|', '\\|');

/** A field's type, naming the wire's own objects. */
function typeOf(schema, names) {
  const named = names.get(JSON.stringify(schema));
  if (named !== undefined) return `\`${named}\``;
  if (schema.const !== undefined) return `\`${JSON.stringify(schema.const)}\``;
  if (schema.anyOf !== undefined) return schema.anyOf.map((option) => typeOf(option, names)).join(' or ');
  if (schema.type === 'array') return `array of ${typeOf(schema.items, names)}`;
  return schema.type ?? 'any JSON value';
}

function limits(schema) {
  const parts = [];
  if (schema.minimum !== undefined) parts.push(`≥ ${schema.minimum}`);
  if (schema.maximum !== undefined) parts.push(`≤ ${schema.maximum}`);
  if (schema.minLength !== undefined) parts.push(`${schema.minLength}–${schema.maxLength ?? '∞'} characters`);
  if (schema.pattern !== undefined) parts.push(`\`${schema.pattern}\``);
  return parts.join(', ');
}

/** One row per property: name, type, required, default, limits, meaning. */
function fields(schema, names) {
  const required = new Set(schema.required ?? []);
  const rows = Object.entries(schema.properties).map(([name, property]) => {
    const meaning =
      property.description ?? (property.anyOf ?? []).find((option) => option.description)?.description ?? '';
    const fallback = property.default === undefined ? '' : `\`${JSON.stringify(property.default)}\``;
    return `| \`${name}\` | ${typeOf(property, names)} | ${required.has(name) ? 'yes' : ''} | ${fallback} | ${cell(limits(property))} | ${cell(meaning)} |`;
  });
  const closed = schema.additionalProperties === false ? '\n\nOther fields are refused (400 `INVALID_REQUEST`).' : '';
  return (
    ['| field | type | required | default | limits | meaning |', '|---|---|---|---|---|---|', ...rows].join('\n') +
    closed
  );
}

export async function renderApiReference() {
  const wire = await loadWire();
  // By content: an optional field holds a copy of the schema it names.
  const names = new Map(['ReceivedMessage', 'Gap'].map((name) => [JSON.stringify(wire[name]), name]));
  const codes = Object.entries(wire.ERROR_STATUS).map(([code, status]) => `| \`${code}\` | ${status} |`);
  return `# HTTP API reference

Generated from the wire schemas in \`sdk/src/wire.ts\` by \`node sdk/scripts/api-reference.mjs\`: do not edit
by hand. The server validates requests and serializes answers with these schemas, and the SDK's types are
generated from them. The contract itself (modes, ordering, persistence) is in \`docs/contract.md\`.

## \`POST /api/v1/streams/send\`

A JSON body (\`content-type: application/json\`, at most \`http.bodyLimitBytes\`, 1 MiB by default):

${fields(wire.SendRequest, names)}

Answer 200, once the owner has the message (stored durably with \`writeToDB\`):

${fields(wire.SendResponse, names)}

## \`GET /api/v1/streams/receive\`

Query parameters:

${fields(wire.ReceiveQuery, names)}

Answer 200 without \`maxMessages\`: the oldest message (taken from memory, or read from the store with
\`readFromDB\` or \`dbResumeToken\`), a \`ReceivedMessage\`:

${fields(wire.ReceivedMessage, names)}

Answer 200 with \`maxMessages\`: up to that many messages, oldest first:

${fields(wire.ReceivedBatch, names)}

\`Gap\`, present when messages after the token were removed before this read:

${fields(wire.Gap, names)}

No message within \`timeoutSeconds\`: 424 \`NO_MESSAGE\` (poll again).

## \`GET /api/v1/streams/events\`

A stored stream as Server-Sent Events (\`text/event-stream\`), for \`EventSource\` and streaming \`fetch\`: the
stored messages after the starting point, then each message as it is stored. Query parameters:

${fields(wire.EventsQuery, names)}

A reconnecting reader's \`Last-Event-ID\` header takes precedence over \`dbResumeToken\` and \`from\`. Each message
is one event whose \`id\` is the resume token after it and whose \`data\` is a \`StreamEvent\`:

${fields(wire.StreamEvent, names)}

\`event: gap\` with \`data: {"reason":"expired"}\` comes before the next message when messages after the starting
point were removed by TTL. A comment line (\`: keep-alive\`) is sent after \`events.heartbeatSeconds\` without
events. The server ends the stream after \`events.maxLifetimeSeconds\`, when the stream moves to another node, and
when a reader does not take its events (more than \`events.maxPendingBytes\` unsent); the reader reconnects with
its last id. A token that is not this stream's: 400 \`INVALID_RESUME_TOKEN\` before the stream starts.

## Errors

Every answer other than 200 has this body:

${fields(wire.ErrorResponse, names)}

| code | HTTP status |
|---|---|
${codes.join('\n')}
`;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) writeFileSync(API_REFERENCE, await renderApiReference());
