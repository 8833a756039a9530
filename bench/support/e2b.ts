import { freePort } from '../../test/support/server-process';

/** The e2b SDK's ESM build (its CommonJS build requires ESM-only chalk, which require() refuses). */
export async function loadE2b(): Promise<typeof import('e2b')> {
  // A real import(): TypeScript would turn a plain one into require() under CommonJS.
  // eslint-disable-next-line @typescript-eslint/no-implied-eval -- the only way to keep it import()
  const load = new Function('name', 'return import(name)') as (
    name: string,
  ) => Promise<typeof import('e2b')>;
  return load('e2b');
}

/** A free E2B_PORT and the SDK options that point at it (both URLs; any key). */
export async function e2bListener(): Promise<{
  env: Record<string, string>;
  options: (url: string) => { apiKey: string; apiUrl: string; sandboxUrl: string };
  port: number;
}> {
  const port = await freePort();
  return {
    port,
    env: { E2B_PORT: String(port) },
    options: () => {
      const url = `http://127.0.0.1:${port}`;
      return { apiKey: 'e2b_0123456789abcdef', apiUrl: url, sandboxUrl: url };
    },
  };
}
