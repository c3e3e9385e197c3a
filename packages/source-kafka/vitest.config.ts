import { microbatchVitestConfig } from '../../vitest.shared.js';

/**
 * Two projects in one run. `kafka`: every test, against the shared broker (KAFKA_BROKERS, one on
 * :9092, else a local one of KAFKA_VERSION, default 3.9). `kafka-4`: the tests that pin the
 * client's protocol and group behaviour run again against a private Kafka 4.x broker, so a
 * broker major upgrade cannot break them unnoticed. `vitest run --project kafka-4` runs one.
 */
export default microbatchVitestConfig({
  // Projects extend the root config, and vitest concatenates arrays: each project names its own files.
  include: [],
  projects: [
    { extends: true, test: { name: 'kafka', include: ['test/**/*.test.ts'], globalSetup: ['test/global-setup.ts'] } },
    {
      extends: true,
      test: {
        name: 'kafka-4',
        include: ['test/conformance.test.ts', 'test/transactions.test.ts', 'test/groups.test.ts'],
        globalSetup: ['test/global-setup-kafka4.ts'],
      },
    },
  ],
});
