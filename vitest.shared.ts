import { readdirSync, existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig, type ViteUserConfig } from 'vitest/config';

const root = dirname(fileURLToPath(import.meta.url));

// Tests import sibling packages from their sources, so a test never runs against a stale dist/.
function workspaceAliases(): Record<string, string> {
  const aliases: Record<string, string> = {};
  for (const group of ['packages', 'apps']) {
    const dir = join(root, group);
    if (!existsSync(dir)) continue;
    for (const name of readdirSync(dir)) {
      const entry = join(dir, name, 'src', 'index.ts');
      if (existsSync(entry)) aliases[`@microbatch/${name}`] = entry;
    }
  }
  return aliases;
}

export function microbatchVitestConfig(overrides: ViteUserConfig['test'] = {}): ViteUserConfig {
  // Each package also writes a JSON report, so tools/run-tests.mjs can print one total for CI.
  const packageName = process.cwd().split(/[\\/]/).slice(-2).join('-');
  return defineConfig({
    resolve: { alias: workspaceAliases() },
    test: {
      include: ['test/**/*.test.ts'],
      reporters: ['default', ['json', { outputFile: join(root, '.test-results', `${packageName}.json`) }]],
      testTimeout: 60_000,
      hookTimeout: 120_000,
      ...overrides,
    },
  });
}
