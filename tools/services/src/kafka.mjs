import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { mavenClasspath } from './maven.mjs';
import { cacheDir } from './paths.mjs';
import { freePort, isPortOpen } from './ports.mjs';
import { spawnService, stopChild } from './process.mjs';

const run = promisify(execFile);

/** The broker version when neither `start({ version })` nor the environment names one. */
export const DEFAULT_KAFKA_VERSION = '3.9.1';

/**
 * The version to start: an explicit one, else KAFKA_VERSION (the documented name), else
 * MICROBATCH_KAFKA_VERSION (its older name, still honoured), else the default.
 */
export function kafkaVersion(explicit) {
  const version = explicit || process.env.KAFKA_VERSION || process.env.MICROBATCH_KAFKA_VERSION || DEFAULT_KAFKA_VERSION;
  if (!/^\d+\.\d+\.\d+$/.test(version)) throw new Error(`Kafka version "${version}" is not "<major>.<minor>.<patch>"`);
  return version;
}

// slf4j-simple gives the broker a log (kafka_2.13 depends on slf4j-api only). Kafka 3.9 and 4.1
// both resolve slf4j-api 1.7.36, and a binding must match the API's major version.
function coordinates(version) {
  return [`org.apache.kafka:kafka_2.13:${version}`, 'org.slf4j:slf4j-simple:1.7.36'];
}

/** A KRaft cluster id: 16 random bytes, base64url; Kafka avoids a leading "-" for CLI safety. */
function clusterId() {
  for (;;) {
    const id = randomBytes(16).toString('base64url');
    if (!id.startsWith('-')) return id;
  }
}

// Every setting below is accepted by both 3.9 and 4.x (checked with 3.9.1 and 4.1.2: neither logs
// an unknown or unused setting). Kafka 4 removed ZooKeeper mode and the message-format settings,
// none of which is used here; it keeps the classic group protocol that kafkajs speaks next to the
// new KIP-848 one (group.coordinator.rebalance.protocols defaults to "classic,consumer").
function serverProperties({ port, controllerPort, dataDir }) {
  return `process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:${controllerPort}
listeners=PLAINTEXT://127.0.0.1:${port},CONTROLLER://127.0.0.1:${controllerPort}
advertised.listeners=PLAINTEXT://127.0.0.1:${port}
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=${dataDir}
num.partitions=1
# A single broker: every internal topic has one replica, and few partitions so startup is quick.
offsets.topic.replication.factor=1
offsets.topic.num.partitions=4
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=4
# Tests join fresh groups all the time; the default 3 s wait for more members is pure latency here.
group.initial.rebalance.delay.ms=0
# Tests of compaction and retention need the cleaner and the retention check to run promptly.
log.cleaner.backoff.ms=500
log.retention.check.interval.ms=1000
log.segment.delete.delay.ms=0
auto.create.topics.enable=false
# After a SIGKILL the restarted broker cannot register until the old incarnation's session expires
# (default 9 s): keep that short so outage tests recover quickly.
broker.heartbeat.interval.ms=500
broker.session.timeout.ms=2000
`;
}

function javaArgs(lib, config) {
  return [
    '-Xms256m',
    '-Xmx512m',
    '-XX:+UseG1GC',
    '-XX:MaxGCPauseMillis=20',
    '-Djava.awt.headless=true',
    '-Dorg.slf4j.simpleLogger.defaultLogLevel=info',
    '-Dorg.slf4j.simpleLogger.showDateTime=true',
    '-cp',
    join(lib, '*'),
    'kafka.Kafka',
    config,
  ];
}

/** Ready = the broker logged that it started and its client port accepts connections. */
async function waitForBroker({ child, port, logFile, from, timeoutMs = 120_000 }) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`kafka exited (${child.exitCode ?? child.signalCode}) before it started; see ${logFile}`);
    }
    const log = existsSync(logFile) ? readFileSync(logFile, 'utf8').slice(from) : '';
    if (log.includes('Kafka Server started') && (await isPortOpen('127.0.0.1', port))) return;
    await sleep(250);
  }
  throw new Error(`kafka did not start within ${timeoutMs} ms; see ${logFile}`);
}

/**
 * Apache Kafka in KRaft mode, one combined broker/controller on 127.0.0.1, from the Maven Central
 * artifacts (no Docker, no tarball): jars cached outside the repo, data in a throwaway folder.
 * The handle's `restart({ downMs })` stops the broker (SIGTERM), waits `downMs` (default 0) and
 * starts it again on the same port and data, for tests of broker outages; `kill()` stops it with
 * SIGKILL and leaves it down until `start()`. `start({ version })` picks the broker version.
 */
export default {
  name: 'kafka',
  envVar: 'KAFKA_BROKERS',
  defaultUrl: 'kafka://127.0.0.1:9092',
  defaultPort: 9092,
  async start({ port, log, version: wanted }) {
    const version = kafkaVersion(wanted);
    const lib = await mavenClasspath(`kafka-${version}-slf4j-1.7`, coordinates(version), { log });
    const dir = mkdtempSync(join(cacheDir('run'), `kafka-${port}-`));
    const controllerPort = await freePort();
    const config = join(dir, 'server.properties');
    const logFile = join(dir, 'kafka.log');
    writeFileSync(config, serverProperties({ port, controllerPort, dataDir: join(dir, 'data') }));
    log(`formatting storage and starting Kafka ${version} (KRaft) on 127.0.0.1:${port}`);
    await run('java', ['-Xmx256m', '-cp', join(lib, '*'), 'kafka.tools.StorageTool', 'format', '-t', clusterId(), '-c', config], {
      maxBuffer: 16 * 1024 * 1024,
    });

    let child;
    const launch = async () => {
      const from = existsSync(logFile) ? readFileSync(logFile).length : 0;
      child = spawnService('java', javaArgs(lib, config), { logFile });
      try {
        await waitForBroker({ child, port, logFile, from });
      } catch (error) {
        await stopChild(child, 1000);
        throw error;
      }
    };
    try {
      await launch();
    } catch (error) {
      rmSync(dir, { recursive: true, force: true });
      throw error;
    }
    return {
      url: `127.0.0.1:${port}`,
      version,
      logFile,
      async restart({ downMs = 0 } = {}) {
        await stopChild(child, 20_000);
        if (downMs > 0) await sleep(downMs);
        await launch();
      },
      async kill() {
        if (child.exitCode === null && child.signalCode === null) {
          child.kill('SIGKILL');
          await new Promise((resolve) => child.once('exit', resolve));
        }
      },
      async start() {
        if (child.exitCode === null && child.signalCode === null) return;
        await launch();
      },
      async stop() {
        await stopChild(child, 20_000);
        rmSync(dir, { recursive: true, force: true });
      },
    };
  },
};
