import { IPubSub } from '@ipubsub/sdk';
import type { Command } from 'commander';

/** A command used wrongly (exit code 2), found after Commander parsed it. */
export class UsageError extends Error {}

/** The node a client command talks to, and how; every client command takes these. */
export interface ConnectionOptions {
  url: string;
  token?: string;
}

const DEFAULT_URL = 'http://127.0.0.1:8801';

/** Adds `--url` and `--token` (defaults from IPUBSUB_URL and IPUBSUB_TOKEN) to a command. */
export function withConnection(command: Command): Command {
  return command
    .option('--url <url>', `base URL of any node (env IPUBSUB_URL)`, process.env.IPUBSUB_URL ?? DEFAULT_URL)
    .option('--token <token>', 'bearer token for auth.mode jwt (env IPUBSUB_TOKEN)', process.env.IPUBSUB_TOKEN);
}

export function connect(options: ConnectionOptions): IPubSub {
  return new IPubSub({ baseUrl: options.url, token: options.token, retry: { limit: 2 } });
}

/** Colours for a person at a terminal only (and never with NO_COLOR set to anything): piped output stays plain. */
export function paint(stream: NodeJS.WriteStream): (code: number, text: string) => string {
  const on = stream.isTTY === true && !process.env.NO_COLOR; // no-color.org: set and not empty
  return (code, text) => (on ? `\u001b[${code}m${text}\u001b[0m` : text);
}

export const DIM = 2;
export const RED = 31;
export const GREEN = 32;
export const YELLOW = 33;
export const CYAN = 36;
