import { s3ConformanceSuite } from './support/conformance.js';

// Against the shared server (s3proxy 4.1.0 unless S3_ENDPOINT names another); s3proxy-2.6.test.ts runs it against 2.6.0.
s3ConformanceSuite(() => process.env.S3_ENDPOINT!);
