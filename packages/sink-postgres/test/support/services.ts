// tools/services is plain JavaScript without types: imported by URL and typed here.
export interface PrivateService {
  readonly url: string;
  restart(): Promise<void>;
  stop(): Promise<void>;
}
interface ServicesModule {
  ensureServices(names: string[]): Promise<{ env: Record<string, string>; stop(): Promise<void> }>;
  startPrivateService(name: string): Promise<PrivateService>;
}

export const services = (): Promise<ServicesModule> =>
  import(new URL('../../../../tools/services/src/index.mjs', import.meta.url).href) as Promise<ServicesModule>;
