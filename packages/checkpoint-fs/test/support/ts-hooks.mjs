// Lets a plain `node` child process run the TypeScript sources (Node strips the types): maps the
// ".js" specifiers of TS sources to their ".ts" files and @microbatch/<name> to that package's
// sources, as vitest's aliases do, so crash tests exercise exactly the code under test without a build.
import { registerHooks } from 'node:module';

const packages = new URL('../../../', import.meta.url);

registerHooks({
  resolve(specifier, context, nextResolve) {
    const workspace = /^@microbatch\/([a-z0-9-]+)$/.exec(specifier);
    if (workspace) return nextResolve(new URL(`${workspace[1]}/src/index.ts`, packages).href, context);
    try {
      return nextResolve(specifier, context);
    } catch (error) {
      if (specifier.endsWith('.js') && context.parentURL?.endsWith('.ts')) return nextResolve(`${specifier.slice(0, -3)}.ts`, context);
      throw error;
    }
  },
});
