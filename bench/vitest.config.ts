import { microbatchVitestConfig } from '../vitest.shared.js';

// The smoke test spawns the real harness (children built from dist/), so no source aliases matter here.
export default microbatchVitestConfig({ testTimeout: 60_000 });
