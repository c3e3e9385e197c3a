import { microbatchVitestConfig } from '../../vitest.shared.js';

// Installs Debian's chromium for the browser tests when it is missing.
export default microbatchVitestConfig({ globalSetup: ['test/support/chromium.ts'] });
