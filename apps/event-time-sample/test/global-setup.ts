// @ts-expect-error -- the services tool is plain JavaScript without type declarations
import { ensureServices } from '../../../tools/services/src/index.mjs';

/** Real Kafka and PostgreSQL for the crash test; stops only what it started. */
export default async function setup(): Promise<() => Promise<void>> {
  const services = await ensureServices(['postgres', 'kafka']);
  return () => services.stop();
}
