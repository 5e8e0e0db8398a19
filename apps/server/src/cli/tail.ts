import type { IPubSub, ReceivedMessage } from '@ipubsub/sdk';
import type { Command } from 'commander';
import { connect, CYAN, DIM, paint, withConnection, type ConnectionOptions } from './connection.js';

interface TailOptions extends ConnectionOptions {
  db?: boolean;
  from?: string;
  follow?: boolean;
}

/** The most messages one read asks for. */
const PAGE = 1000;

type Printed = ReceivedMessage & { resumeToken?: string };

/** NDJSON when piped (the whole message, its resume token included); one coloured line each on a terminal. */
function printer(): (message: Printed) => void {
  if (process.stdout.isTTY !== true) return (message) => process.stdout.write(`${JSON.stringify(message)}\n`);
  const colour = paint(process.stdout);
  return ({ timestamp, messageUuid, message }) =>
    process.stdout.write(`${colour(DIM, timestamp)} ${colour(CYAN, messageUuid)} ${JSON.stringify(message)}\n`);
}

/**
 * `ipubsub tail <stream>`: prints the stream's messages. From memory it takes them (a receive consumes); with
 * `--db` it reads the store without consuming, from the oldest or after `--from <token>`, and ends by printing
 * the token to continue from on stderr. `--follow` keeps waiting for new messages until interrupted.
 */
export function registerTailCommand(program: Command): void {
  withConnection(
    program
      .command('tail')
      .description('print the messages of a stream: NDJSON when piped, one line each on a terminal')
      .argument('<stream>', 'stream id')
      .option('--db', 'read the stored messages without consuming them (readFromDB)')
      .option('--from <token>', 'with --db: continue after this resume token')
      .option('--follow', 'keep waiting for new messages until interrupted (Ctrl-C)'),
  ).action(async (stream: string, options: TailOptions) => {
    const print = printer();
    await using client = connect(options);
    if (options.follow === true) await follow(client, stream, options, print);
    else await drain(client, stream, options, print);
  });
}

/** Reads what is there now, page by page, and stops at the first empty answer. */
async function drain(
  client: IPubSub,
  stream: string,
  options: TailOptions,
  print: (m: Printed) => void,
): Promise<void> {
  const fromStore = options.db === true || options.from !== undefined;
  let token = options.from;
  for (;;) {
    const batch = await client.receive(stream, {
      maxMessages: PAGE,
      timeoutSeconds: 0,
      readFromDB: fromStore || undefined,
      dbResumeToken: token,
    });
    if (batch === null || batch.messages.length === 0) break;
    for (const message of batch.messages) print(message);
    token = batch.dbResumeToken ?? token;
  }
  if (fromStore && token !== undefined) process.stderr.write(`${paint(process.stderr)(DIM, `--from ${token}`)}\n`);
}

/** Waits for messages until SIGINT or SIGTERM, which end the subscription and the command with exit code 0. */
async function follow(
  client: IPubSub,
  stream: string,
  options: TailOptions,
  print: (m: Printed) => void,
): Promise<void> {
  const stop = new AbortController();
  const onSignal = (): void => stop.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    const subscription = client.subscribe(stream, {
      fromStore: options.db === true || undefined,
      resumeToken: options.from,
      signal: stop.signal,
    });
    for await (const message of subscription) print(message);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
