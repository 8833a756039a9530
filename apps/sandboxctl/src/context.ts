import type { Command } from 'commander';
import { SandboxdClient } from '@app/sdk';

export const DEFAULT_URL = 'http://127.0.0.1:8080';

/** What every command needs: the client, and whether to answer in JSON for scripts. */
export interface Context {
  client: SandboxdClient;
  json: boolean;
  stdout: NodeJS.WriteStream;
  stderr: NodeJS.WriteStream;
  /** Prints a value as JSON (with --json) or the human form otherwise. */
  print(value: unknown, human: () => string): void;
}

interface GlobalOptions {
  json?: boolean;
  url?: string;
}

export function contextOf(command: Command): Context {
  const options = command.optsWithGlobals<GlobalOptions>();
  const json = options.json === true;
  const stdout = process.stdout;
  return {
    client: new SandboxdClient({
      baseUrl: options.url ?? process.env.SANDBOXD_URL ?? DEFAULT_URL,
      apiKey: process.env.SANDBOXD_API_KEY || undefined,
    }),
    json,
    stdout,
    stderr: process.stderr,
    print: (value, human) => {
      const text = json ? JSON.stringify(value, null, 2) : human();
      if (text !== '') stdout.write(text.endsWith('\n') ? text : `${text}\n`);
    },
  };
}
