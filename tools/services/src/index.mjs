import { freePort, hostPort, isPortOpen } from './ports.mjs';

/**
 * Each service plugin (./<name>.mjs) exports default:
 *   { name, envVar, defaultUrl, defaultPort,
 *     start({ port, log }) -> Promise<{ url, stop(): Promise<void>, restart?(): Promise<void> }> }
 * `start` must launch a new instance listening on 127.0.0.1:port and resolve once it serves requests.
 */
const plugins = {
  kafka: () => import('./kafka.mjs'),
  postgres: () => import('./postgres.mjs'),
  redis: () => import('./redis.mjs'),
  s3: () => import('./s3.mjs'),
};

export const ALL_SERVICES = Object.keys(plugins);

async function plugin(name) {
  const load = plugins[name];
  if (!load) throw new Error(`unknown service "${name}"; known: ${ALL_SERVICES.join(', ')}`);
  return (await load()).default;
}

const defaultLog = (message) => process.stderr.write(`[services] ${message}\n`);

/**
 * Makes sure each named service is reachable and its URL variable is set in process.env:
 * an already-set variable wins, then a service answering on the default port, and only then a
 * local instance is started. Returns a `stop()` that stops only what this call started.
 */
export async function ensureServices(names = ALL_SERVICES, { log = defaultLog } = {}) {
  const started = [];
  try {
    for (const name of names) {
      const p = await plugin(name);
      if (process.env[p.envVar]) {
        log(`${name}: using ${p.envVar}=${redact(process.env[p.envVar])}`);
        continue;
      }
      const { host, port } = hostPort(p.defaultUrl, p.defaultPort);
      if (await isPortOpen(host, port)) {
        process.env[p.envVar] = p.defaultUrl;
        log(`${name}: reusing the one answering on ${host}:${port}`);
        continue;
      }
      const instance = await p.start({ port, log: (m) => log(`${name}: ${m}`) });
      process.env[p.envVar] = instance.url;
      started.push({ name, instance });
      log(`${name}: started at ${redact(instance.url)}`);
    }
  } catch (error) {
    await stopAll(started, log);
    throw error;
  }
  return handle(names, started, log);
}

/**
 * Starts a private instance on a free port, for tests that stop or restart a service and must
 * not disturb the shared one. The caller stops it. Other options go to the plugin's `start`
 * (Kafka: `{ version }`).
 */
export async function startPrivateService(name, { log = defaultLog, ...options } = {}) {
  const p = await plugin(name);
  const port = await freePort();
  return p.start({ ...options, port, log: (m) => log(`${name}(private): ${m}`) });
}

/**
 * Private instances of every named service, each URL variable set in process.env (overriding the
 * shared ones), so a second test run can go on beside another without touching its services.
 */
export async function startPrivateServices(names = ALL_SERVICES, { log = defaultLog } = {}) {
  const started = [];
  try {
    for (const name of names) {
      const p = await plugin(name);
      const instance = await startPrivateService(name, { log });
      started.push({ name, instance });
      process.env[p.envVar] = instance.url;
      log(`${name}(private): started at ${redact(instance.url)}`);
    }
  } catch (error) {
    await stopAll(started, log);
    throw error;
  }
  return handle(names, started, log);
}

/** What both start functions return: the services' variables, and a stop of what they started. */
async function handle(names, started, log) {
  return {
    env: Object.fromEntries(await Promise.all(names.map(async (n) => [(await plugin(n)).envVar, process.env[(await plugin(n)).envVar]]))),
    stop: () => stopAll(started, log),
  };
}

async function stopAll(started, log) {
  for (const { name, instance } of started.reverse()) {
    log(`${name}: stopping`);
    await instance.stop();
  }
}

function redact(url) {
  return String(url).replace(/\/\/([^:/@]+):([^@]+)@/, '//$1:***@');
}
