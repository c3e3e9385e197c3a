import { defineConfig } from 'tsup';

export default defineConfig({
  entry: ['src/main.ts'],
  banner: { js: '' },
  format: ['esm'],
  clean: true,
  target: 'node22',
});
