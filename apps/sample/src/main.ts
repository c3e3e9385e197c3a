#!/usr/bin/env node
import { MicrobatchError } from '@microbatch/core';
import { crashTest, crashTestHelp } from './commands/crash-test.js';
import { produce, produceHelp } from './commands/produce.js';
import { run, runHelp } from './commands/run.js';
import { verify, verifyHelp } from './commands/verify.js';
import { UsageError } from './options.js';

const commands: Record<string, { fn: (argv: string[], write: (l: string) => void) => Promise<number>; help: string }> = {
  run: { fn: run, help: runHelp },
  produce: { fn: produce, help: produceHelp },
  verify: { fn: verify, help: verifyHelp },
  'crash-test': { fn: crashTest, help: crashTestHelp },
};

const usage = `usage: microbatch-sample <command> [flags]

commands:
  run          run the pipeline (default: the generator into PGlite, checkpoints in .microbatch/)
  produce      write the generated events to a new Kafka topic
  verify       check the four output tables against the expected contents
  crash-test   kill the pipeline with SIGKILL K times, restart it, then verify

microbatch-sample <command> --help shows every flag and its MICROBATCH_* variable.
`;

const write = (line: string) => process.stdout.write(`${line}\n`);
const [name, ...argv] = process.argv.slice(2);

async function main(): Promise<number> {
  if (!name || name === '--help' || name === '-h') {
    process.stdout.write(usage);
    return name ? 0 : 2;
  }
  const command = commands[name];
  if (!command) throw new UsageError(`unknown command "${name}"`);
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(command.help);
    return 0;
  }
  return command.fn(argv, write);
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    if (error instanceof UsageError) {
      process.stderr.write(`microbatch-sample: ${error.message}\n(see microbatch-sample ${name && commands[name] ? `${name} ` : ''}--help)\n`);
      process.exit(2);
    }
    const code = error instanceof MicrobatchError ? ` [${error.code}]` : '';
    process.stderr.write(`microbatch-sample: ${(error as Error).message ?? String(error)}${code}\n`);
    if (error instanceof MicrobatchError && error.cause) process.stderr.write(`  caused by: ${(error.cause as Error).message ?? String(error.cause)}\n`);
    process.exit(1);
  },
);
