import { createInterface } from 'node:readline';
import type { IPubSub, SendOptions } from '@ipubsub/sdk';
import { type Command, InvalidArgumentError } from 'commander';
import { connect, DIM, paint, UsageError, withConnection, type ConnectionOptions } from './connection.js';

interface SendCommandOptions extends ConnectionOptions {
  db?: boolean;
  size?: number;
  ttl?: number;
  uuid?: string;
}

const wholeNumber = (value: string): number => {
  const number = Number(value);
  if (!Number.isInteger(number) || number < 0) throw new InvalidArgumentError('expected a whole number');
  return number;
};
const positiveInteger = (value: string): number => {
  const number = wholeNumber(value);
  if (number < 1) throw new InvalidArgumentError('expected a whole number ≥ 1');
  return number;
};

/** A message given on the command line or a line of stdin: JSON, or an error naming where it came from. */
function parseMessage(text: string, where: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new UsageError(`${where} is not JSON: ${text.length > 60 ? `${text.slice(0, 60)}…` : text}`);
  }
}

/**
 * `ipubsub send <stream> [json]`: sends one message, or with `-` (or no message and stdin not a terminal) one
 * message per line of NDJSON on stdin, in order, showing progress on a terminal.
 */
export function registerSendCommand(program: Command): void {
  withConnection(
    program
      .command('send')
      .description('send a JSON message to a stream, or NDJSON from stdin (one message per line) with "-"')
      .argument('<stream>', 'stream id')
      .argument('[json]', 'the message as JSON; "-" or none: read NDJSON from stdin')
      .option('--db', 'store the messages (writeToDB): answered once stored durably')
      .option('--size <messages>', 'in-memory capacity of a stream this send creates (inMemoryStreamSize)', wholeNumber)
      .option('--ttl <seconds>', 'time to live of stored messages (dbTTLSeconds)', positiveInteger)
      .option('--uuid <id>', 'messageUuid of a single message (a repeat with the same id is dropped)'),
  ).action(async (stream: string, json: string | undefined, options: SendCommandOptions) => {
    const settings: SendOptions = {
      writeToDB: options.db,
      dbTTLSeconds: options.ttl,
      inMemoryStreamSize: options.size,
    };
    await using client = connect(options);
    if (json !== undefined && json !== '-') {
      const answer = await client.send(stream, parseMessage(json, 'the message'), {
        ...settings,
        messageUuid: options.uuid,
      });
      process.stdout.write(`${JSON.stringify(answer)}\n`);
      return;
    }
    if (process.stdin.isTTY === true && json === undefined)
      throw new UsageError('give the message as JSON, or pipe NDJSON into "ipubsub send <stream> -"');
    if (options.uuid !== undefined) throw new UsageError('--uuid names a single message, not a stream');
    await sendLines(client, stream, settings);
  });
}

/** One send per line, in order (a stream keeps the order messages arrive in); blank lines are skipped. */
async function sendLines(client: IPubSub, stream: string, settings: SendOptions): Promise<void> {
  const progress = process.stderr.isTTY === true;
  const dim = paint(process.stderr);
  const startedAt = performance.now();
  let sent = 0;
  let duplicates = 0;
  let line = 0;
  let shownAt = 0;
  const show = (final: boolean): void => {
    const seconds = (performance.now() - startedAt) / 1000;
    const rate = seconds > 0 ? Math.round(sent / seconds) : 0;
    const text = `sent ${sent.toLocaleString('en')} messages${duplicates > 0 ? ` (${duplicates} duplicates)` : ''}`;
    if (progress)
      process.stderr.write(`\r${text} ${dim(DIM, `${rate.toLocaleString('en')}/s`)}\u001b[K${final ? '\n' : ''}`);
    else if (final) process.stderr.write(`${text}\n`);
  };
  for await (const text of createInterface({ input: process.stdin, crlfDelay: Infinity })) {
    line++;
    if (text.trim() === '') continue;
    const answer = await client.send(stream, parseMessage(text, `line ${line}`), settings);
    sent++;
    if (answer.duplicate === true) duplicates++;
    if (progress && performance.now() - shownAt > 100) {
      shownAt = performance.now();
      show(false);
    }
  }
  show(true);
}
