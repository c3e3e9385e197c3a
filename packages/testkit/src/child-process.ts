import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { pathToFileURL } from 'node:url';

/** A child process running a TypeScript script, for crash tests that SIGKILL real processes. */
export interface TsChild {
  readonly process: ChildProcess;
  /** Every line the child printed on stdout so far. */
  readonly lines: readonly string[];
  /** Resolves with the first stdout line (seen or future) matching `test`; rejects if the child exits first. */
  waitFor(test: (line: string) => boolean): Promise<string>;
  /** SIGKILL (if still running), then waits until the process is gone. */
  kill(): Promise<void>;
  /** Waits for the child to exit; rejects, with its stderr, unless it exits with 0. */
  exited(): Promise<void>;
}

/**
 * Resolve hooks, as a data: URL for `node --import`: ".js" specifiers of TS sources map to their
 * ".ts" files and `@microbatch/<name>` to `<packagesDir>/<name>/src/index.ts` (as vitest's aliases
 * do), so a child runs exactly the sources under test, with no build and no loader dependency.
 */
function hooksUrl(packagesDir: string): string {
  const packages = JSON.stringify(pathToFileURL(`${packagesDir}/`).href);
  const code = `import { registerHooks } from 'node:module';
registerHooks({
  resolve(specifier, context, nextResolve) {
    const workspace = /^@microbatch\\/([a-z0-9-]+)$/.exec(specifier);
    if (workspace) return nextResolve(new URL(workspace[1] + '/src/index.ts', ${packages}).href, context);
    try {
      return nextResolve(specifier, context);
    } catch (error) {
      if (specifier.endsWith('.js') && context.parentURL?.endsWith('.ts')) return nextResolve(specifier.slice(0, -3) + '.ts', context);
      throw error;
    }
  },
});`;
  return `data:text/javascript,${encodeURIComponent(code)}`;
}

/**
 * The command line (`node` first) that runs `<script> ...args` with TypeScript support (Node's type
 * transform) and the workspace resolution above: for `spawnTsChild`, or as the `app` of
 * `killLoop` / `verifyPipeline`. `packagesDir` is the monorepo's packages folder.
 */
export function tsChildCommand(script: string, args: readonly string[], options: { packagesDir: string }): string[] {
  return [process.execPath, '--experimental-transform-types', '--no-warnings', '--import', hooksUrl(options.packagesDir), script, ...args];
}

/** Starts `tsChildCommand(script, args)` with its stdout read line by line. */
export function spawnTsChild(script: string, args: readonly string[], options: { packagesDir: string; env?: NodeJS.ProcessEnv }): TsChild {
  const [node, ...argv] = tsChildCommand(script, args, options);
  const child = spawn(node!, argv, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...options.env } });
  const lines: string[] = [];
  const waiters: Array<{ test: (line: string) => boolean; resolve: (line: string) => void }> = [];
  let stderr = '';
  child.stderr!.on('data', (data) => (stderr += data));
  createInterface({ input: child.stdout! }).on('line', (line) => {
    lines.push(line);
    for (const waiter of [...waiters]) {
      if (!waiter.test(line)) continue;
      waiters.splice(waiters.indexOf(waiter), 1);
      waiter.resolve(line);
    }
  });
  const exit = once(child, 'exit').then(([code, signal]) => ({ code: code as number | null, signal: signal as string | null }));
  const failure = ({ code, signal }: { code: number | null; signal: string | null }, what: string) =>
    new Error(`child ${script} exited (code ${code}, signal ${signal}) ${what}; stderr:\n${stderr}`);
  return {
    process: child,
    lines,
    waitFor(test) {
      const seen = lines.find(test);
      if (seen !== undefined) return Promise.resolve(seen);
      return Promise.race([
        new Promise<string>((resolve) => waiters.push({ test, resolve })),
        exit.then((result) => {
          throw failure(result, 'before printing the expected line');
        }),
      ]);
    },
    async kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exit;
    },
    async exited() {
      const result = await exit;
      if (result.code !== 0) throw failure(result, 'with a failure');
    },
  };
}
