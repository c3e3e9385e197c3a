import { microbatchVitestConfig } from '../../vitest.shared.js';

export default microbatchVitestConfig();
