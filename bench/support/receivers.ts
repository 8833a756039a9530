import { ChildProcess, spawn } from 'node:child_process';
import type { Cleanups } from './run';

/**
 * Webhook receivers in a process of their own (so their work never sits on the benchmark's event
 * loop while it times a request): `count` servers on 127.0.0.1, each verifying every delivery
 * with the `standardwebhooks` library and answering 200, reporting each delivery over IPC.
 */
const SCRIPT = `
const http = require('node:http');
const { Webhook } = require('standardwebhooks');
const secrets = new Map();
process.on('message', (m) => { if (m.type === 'secret') secrets.set(m.index, m.secret); });
const count = Number(process.env.RECEIVERS);
const urls = [];
let listening = 0;
for (let index = 0; index < count; index += 1) {
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      let verified = false;
      try { new Webhook(secrets.get(index)).verify(body, req.headers); verified = true; } catch {}
      res.end('ok');
      const sandboxId = JSON.parse(body).data?.sandboxId ?? null;
      process.send({ type: 'delivery', index, sandboxId, verified });
    });
  });
  server.listen(0, '127.0.0.1', () => {
    urls[index] = 'http://127.0.0.1:' + server.address().port + '/hook';
    if (++listening === count) process.send({ type: 'ready', urls });
  });
}
process.on('disconnect', () => process.exit(0));
`;

export class ReceiverProcess {
  /** Deliveries per receiver and sandbox. */
  private readonly counts = new Map<string, number>();
  private unverified = 0;

  private constructor(
    private readonly child: ChildProcess,
    readonly urls: string[],
  ) {
    child.on(
      'message',
      (m: { type: string; index: number; sandboxId: string; verified: boolean }) => {
        if (m.type !== 'delivery') return;
        if (!m.verified) this.unverified += 1;
        const key = `${m.index}/${m.sandboxId}`;
        this.counts.set(key, (this.counts.get(key) ?? 0) + 1);
      },
    );
  }

  static start(count: number, cleanups: Cleanups): Promise<ReceiverProcess> {
    const child = spawn(process.execPath, ['-e', SCRIPT], {
      env: { ...process.env, RECEIVERS: String(count) },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    cleanups.add('webhook receivers', () => {
      if (child.exitCode === null) child.kill('SIGTERM');
      return Promise.resolve();
    });
    return new Promise((resolve, reject) => {
      child.once('error', reject);
      child.once('exit', (code) => reject(new Error(`receivers exited with ${code}`)));
      child.on('message', (m: { type: string; urls: string[] }) => {
        if (m.type === 'ready') resolve(new ReceiverProcess(child, m.urls));
      });
    });
  }

  setSecret(index: number, secret: string): void {
    this.child.send({ type: 'secret', index, secret });
  }

  /** Resolves once every receiver has `count` deliveries of the sandbox (or fails after 30 s). */
  async waitFor(sandboxId: string, count: number): Promise<void> {
    const deadline = Date.now() + 30_000;
    const done = () =>
      this.urls.every((_, i) => (this.counts.get(`${i}/${sandboxId}`) ?? 0) >= count);
    while (!done()) {
      if (Date.now() > deadline) throw new Error(`deliveries of ${sandboxId} did not arrive`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    if (this.unverified > 0) throw new Error(`${this.unverified} delivery(ies) did not verify`);
  }
}
