#!/usr/bin/env node
import { Command, CommanderError } from 'commander';
import { PACKAGE_VERSION } from '../package-version.js';
import { UsageError } from './connection.js';
import { registerSendCommand } from './send.js';
import { registerServeCommand } from './serve.js';
import { registerStatusCommand } from './status.js';
import { registerTailCommand } from './tail.js';
import { registerTokenCommand } from './token.js';

/** Exit codes: 0 done, 1 the command failed (a refusal, an unreachable node), 2 it was used wrongly. */
const FAILED = 1;
const USAGE = 2;

/** Whether Commander has written an error itself (a parse error) or it is still to be written (one from an action). */
let errorWritten = false;

/** `ipubsub <command>`: one file per command in this folder, each registering itself on the program. */
const program = new Command('ipubsub')
  .description('iPubSub: run a node, send to and tail streams, inspect a cluster, mint tokens')
  .version(PACKAGE_VERSION)
  .showHelpAfterError()
  .configureOutput({
    writeErr: (text) => {
      errorWritten = true;
      process.stderr.write(text);
    },
  })
  .exitOverride();
registerServeCommand(program);
registerSendCommand(program);
registerTailCommand(program);
registerStatusCommand(program);
registerTokenCommand(program);

program.parseAsync(process.argv).catch((err: unknown) => {
  if (err instanceof CommanderError) {
    if (!errorWritten && err.exitCode !== 0) process.stderr.write(`ipubsub: ${err.message}\n`);
    process.exit(err.exitCode === 0 ? 0 : USAGE);
  }
  // fetch says only "fetch failed"; its causes say why (connect ECONNREFUSED 127.0.0.1:8801, ...).
  const messages: string[] = [];
  for (let cause = err as Error | undefined; cause instanceof Error; cause = cause.cause as Error | undefined)
    if (!messages.includes(cause.message)) messages.push(cause.message);
  process.stderr.write(`ipubsub: ${messages.join(': ')}\n`);
  process.exit(err instanceof UsageError ? USAGE : FAILED);
});
