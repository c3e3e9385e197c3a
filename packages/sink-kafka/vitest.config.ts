import { microbatchVitestConfig } from '../../vitest.shared.js';

export default microbatchVitestConfig({ globalSetup: ['test/global-setup.ts'] });
