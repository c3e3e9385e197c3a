#!/usr/bin/env node
import { isMicrobatchError } from '@microbatch/core';
import { parseVerifyArgs, verifyHelp } from './verify/cli-options.js';
import { verifyPipeline } from './verify/verify.js';

/** `microbatch-verify`: exit 0 when the run with kills equals the uninterrupted run, 1 when not, 2 on bad options. */
async function main(argv: readonly string[]): Promise<number> {
  let report;
  try {
    const options = parseVerifyArgs(argv);
    if (options === 'help') {
      process.stdout.write(`${verifyHelp()}\n`);
      return 0;
    }
    report = await verifyPipeline({ ...options, write: (line) => process.stdout.write(`${line}\n`) });
  } catch (error) {
    if (isMicrobatchError(error) && (error.code === 'INVALID_OPTION' || error.code === 'INVALID_URI' || error.code === 'INVALID_RECORD')) {
      process.stderr.write(`[${error.code}] ${error.message}\n`);
      return 2;
    }
    throw error;
  }
  process.stdout.write(`${report.text}\n`);
  return report.ok ? 0 : 1;
}

main(process.argv.slice(2)).then(
  (code) => (process.exitCode = code),
  (error: unknown) => {
    process.stderr.write(`microbatch-verify failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exitCode = 1;
  },
);
