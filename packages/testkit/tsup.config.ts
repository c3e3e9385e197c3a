import { defineConfig } from 'tsup';
import { libraryConfig } from '../../tsup.shared.js';

// The library as every package builds it, plus the microbatch-verify CLI (dist/cli.js, the bin).
export default defineConfig({ ...(libraryConfig as object), entry: ['src/index.ts', 'src/cli.ts'] });
