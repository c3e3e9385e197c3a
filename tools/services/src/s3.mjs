import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { mavenClasspath } from './maven.mjs';
import { cacheDir } from './paths.mjs';
import { spawnService, stopChild } from './process.mjs';
import { waitForPort } from './ports.mjs';

/** The version the shared server runs; `MICROBATCH_S3PROXY_VERSION` picks another (e.g. 2.6.0 to test older servers). */
export const DEFAULT_S3PROXY_VERSION = '4.1.0';

/**
 * Extra Maven coordinates a version needs beside org.gaul:s3proxy. 4.x: its pom resolves
 * jackson-annotations 2.18 (nearest wins) while its Jackson 3 databind needs 2.22; naming 2.22
 * at the top level makes Maven pick it.
 */
const EXTRA_COORDINATES = {
  '4.1.0': ['com.fasterxml.jackson.core:jackson-annotations:2.22'],
};

/**
 * S3-compatible server for tests: s3proxy from Maven Central (jars cached outside the repo) with
 * jclouds' filesystem backend in a throwaway folder, no authentication (any key signs), on
 * 127.0.0.1. `restart({ downMs })` stops the instance, waits, and starts it again on the same port
 * and data folder, so fault tests can take the server away for a while and get their objects back.
 * `stop()` removes the data folder and is safe to call twice. `version` defaults to
 * `MICROBATCH_S3PROXY_VERSION`, else DEFAULT_S3PROXY_VERSION.
 */
export default {
  name: 's3',
  envVar: 'S3_ENDPOINT',
  defaultUrl: 'http://127.0.0.1:9444',
  defaultPort: 9444,
  async start({ port, log, version = process.env.MICROBATCH_S3PROXY_VERSION || DEFAULT_S3PROXY_VERSION }) {
    const lib = await mavenClasspath(`s3proxy-${version}`, [`org.gaul:s3proxy:${version}`, ...(EXTRA_COORDINATES[version] ?? [])], { log });
    const dir = mkdtempSync(join(cacheDir('run'), `s3proxy-${port}-`));
    const data = join(dir, 'data');
    mkdirSync(data);
    const config = join(dir, 's3proxy.properties');
    writeFileSync(
      config,
      [
        `s3proxy.endpoint=http://127.0.0.1:${port}`,
        's3proxy.authorization=none',
        'jclouds.provider=filesystem',
        `jclouds.filesystem.basedir=${data}`,
        '',
      ].join('\n'),
    );
    // The published jar has no logback.xml, so logback's default would log every request at debug.
    const logback = join(dir, 'logback.xml');
    writeFileSync(
      logback,
      '<configuration><appender name="out" class="ch.qos.logback.core.ConsoleAppender"><encoder><pattern>%d %level %logger{20} %msg%n</pattern></encoder></appender><root level="WARN"><appender-ref ref="out"/></root></configuration>\n',
    );
    const classpath = readdirSync(lib)
      .filter((f) => f.endsWith('.jar'))
      .map((f) => join(lib, f))
      .join(':');
    const launch = async () => {
      log(`starting s3proxy ${version} on 127.0.0.1:${port}`);
      const child = spawnService(
        'java',
        ['-Xmx256m', '-XX:TieredStopAtLevel=1', `-Dlogback.configurationFile=${logback}`, '-cp', classpath, 'org.gaul.s3proxy.Main', '--properties', config],
        { logFile: join(dir, 's3proxy.log') },
      );
      await waitForPort('127.0.0.1', port, { child, what: 's3proxy' });
      return child;
    };
    let child = await launch();
    return {
      url: `http://127.0.0.1:${port}`,
      async stop() {
        await stopChild(child);
        rmSync(dir, { recursive: true, force: true });
      },
      async restart({ downMs = 0 } = {}) {
        await stopChild(child);
        await new Promise((resolve) => setTimeout(resolve, downMs));
        child = await launch();
      },
    };
  },
};
