import { afterAll, beforeAll } from 'vitest';
// @ts-expect-error -- the services tool is plain JavaScript without type declarations
import s3 from '../../../../tools/services/src/s3.mjs';
// @ts-expect-error -- likewise
import { freePort } from '../../../../tools/services/src/ports.mjs';

interface Instance {
  url: string;
  stop(): Promise<void>;
}

/**
 * A private s3proxy of the given version (from Maven Central, cached) for the enclosing describe
 * block: started before its tests, stopped after. The shared server stays the default version, so
 * this is how one test run also covers an older server.
 */
export function usePrivateS3proxy(version: string): () => string {
  let instance: Instance | undefined;
  beforeAll(async () => {
    const port = (await freePort()) as number;
    instance = (await s3.start({ port, version, log: (m: string) => process.stderr.write(`[s3proxy ${version}] ${m}\n`) })) as Instance;
  });
  afterAll(async () => {
    await instance?.stop();
  });
  return () => {
    if (!instance) throw new Error(`s3proxy ${version} runs only inside tests`);
    return instance.url;
  };
}
