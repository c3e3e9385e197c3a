import { microbatchVitestConfig } from '../../vitest.shared.ts';

export default microbatchVitestConfig({ include: ['test/**/*.test.mjs'] });
