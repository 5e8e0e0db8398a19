import type { Command } from 'commander';

/** `ipubsub serve [--config <file>]`: runs a node in this process, as `node dist/main.js --config <file>` does. */
export function registerServeCommand(program: Command): void {
  program
    .command('serve')
    .description('run an iPubSub node (keys from the YAML file, then IPUBSUB_* environment variables)')
    .option('-c, --config <file>', 'YAML configuration file (env IPUBSUB_CONFIG)')
    .action(async (options: { config?: string }) => {
      if (options.config !== undefined) process.env.IPUBSUB_CONFIG = options.config;
      // The node reads its configuration and starts when its module loads; it stops on SIGTERM or SIGINT.
      await import('../main.js');
    });
}
