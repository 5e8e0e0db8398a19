#!/usr/bin/env node
import { Command } from 'commander';
import { registerTokenCommand } from './token.js';

/** `ipubsub <command>`: one file per command in this folder, each registering itself on the program. */
const program = new Command('ipubsub').description('iPubSub server tools').showHelpAfterError();
registerTokenCommand(program);

program.parseAsync(process.argv).catch((err: unknown) => {
  process.stderr.write(`ipubsub: ${(err as Error).message}\n`);
  process.exit(1);
});
