#!/usr/bin/env node
import { spawn } from 'node:child_process';
import { ALL_SERVICES, ensureServices, startPrivateServices } from './index.mjs';

const usage = `usage:
  microbatch-services run [--need kafka,postgres,redis,s3] -- <command...>
      ensure the services (reuse, or start locally), run the command with
      KAFKA_BROKERS / DATABASE_URL / REDIS_URL / S3_ENDPOINT set, then stop what was started
  microbatch-services up [--need ...] [--private]
      ensure the services, print their variables, keep them running until Ctrl-C

  --private  start a throwaway instance of every needed service on a free port instead of
             reusing the shared ones (for a second test run beside another, or for fault tests)`;

const args = process.argv.slice(2);
const command = args.shift();
let need = ALL_SERVICES;
let privateServices = false;
const dash = args.indexOf('--');
const flags = dash === -1 ? args : args.slice(0, dash);
const rest = dash === -1 ? [] : args.slice(dash + 1);
for (let i = 0; i < flags.length; i++) {
  if (flags[i] === '--need') need = String(flags[++i] ?? '').split(',').filter(Boolean);
  else if (flags[i] === '--private') privateServices = true;
  else fail(`unknown flag ${flags[i]}`);
}
if (command !== 'run' && command !== 'up') fail(command ? `unknown command ${command}` : 'missing command');
if (command === 'run' && rest.length === 0) fail('run needs a command after --');

function fail(message) {
  process.stderr.write(`${message}\n${usage}\n`);
  process.exit(2);
}

const services = privateServices ? await startPrivateServices(need) : await ensureServices(need);

let stopping = false;
const shutdown = async (code) => {
  if (stopping) return;
  stopping = true;
  await services.stop();
  process.exit(code);
};

if (command === 'up') {
  for (const [key, value] of Object.entries(services.env)) process.stdout.write(`export ${key}=${value}\n`);
  process.stdout.write('# services are up; Ctrl-C stops the ones started here\n');
  process.on('SIGINT', () => shutdown(0));
  process.on('SIGTERM', () => shutdown(0));
  setInterval(() => {}, 1 << 30);
} else {
  const child = spawn(rest[0], rest.slice(1), { stdio: 'inherit', env: process.env, shell: process.platform === 'win32' });
  for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => child.kill(signal));
  child.on('exit', (code, signal) => shutdown(code ?? (signal ? 1 : 0)));
}
