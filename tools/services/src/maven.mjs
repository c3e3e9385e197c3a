import { execFile } from 'node:child_process';
import { existsSync, writeFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { cacheDir } from './paths.mjs';

const run = promisify(execFile);

/**
 * Resolves Maven Central artifacts and their runtime dependencies into a cached lib/ folder
 * (outside the repo) with `mvn dependency:copy-dependencies`, once per `id`.
 * @param {string} id cache folder name, e.g. "kafka-3.9.1"
 * @param {string[]} coordinates "group:artifact:version"
 * @returns {Promise<string>} the folder holding the jars
 */
export async function mavenClasspath(id, coordinates, { log = () => {} } = {}) {
  const dir = cacheDir('maven', id);
  const lib = join(dir, 'lib');
  const marker = join(dir, '.complete');
  if (existsSync(marker)) return lib;
  const dependencies = coordinates
    .map((c) => {
      const [groupId, artifactId, version] = c.split(':');
      return `<dependency><groupId>${groupId}</groupId><artifactId>${artifactId}</artifactId><version>${version}</version></dependency>`;
    })
    .join('\n    ');
  writeFileSync(
    join(dir, 'pom.xml'),
    `<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>dev.microbatch.services</groupId>
  <artifactId>${id.replace(/[^A-Za-z0-9_.-]/g, '-')}</artifactId>
  <version>0</version>
  <packaging>pom</packaging>
  <dependencies>
    ${dependencies}
  </dependencies>
</project>
`,
  );
  log(`fetching ${coordinates.join(', ')} from Maven Central (cached in ${dir})`);
  await run(
    'mvn',
    ['-q', '-B', '-f', join(dir, 'pom.xml'), 'dependency:copy-dependencies', `-DoutputDirectory=${lib}`, '-DincludeScope=runtime'],
    { maxBuffer: 64 * 1024 * 1024 },
  );
  if (readdirSync(lib).length === 0) throw new Error(`maven resolved no jars for ${id}`);
  writeFileSync(marker, new Date().toISOString());
  return lib;
}
