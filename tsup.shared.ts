import { defineConfig } from 'tsup';

/** Every library package builds the same way: ESM + CJS + .d.ts from src/index.ts, for Node 22+. */
export const libraryConfig = defineConfig({
  entry: ['src/index.ts'],
  format: ['esm', 'cjs'],
  dts: true,
  clean: true,
  sourcemap: true,
  target: 'node22',
});
