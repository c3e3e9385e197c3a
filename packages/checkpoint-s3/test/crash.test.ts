import { s3CrashSuite } from './support/crash.js';

// Against the shared server; s3proxy-2.6.test.ts runs it against 2.6.0.
s3CrashSuite(() => process.env.S3_ENDPOINT!);
