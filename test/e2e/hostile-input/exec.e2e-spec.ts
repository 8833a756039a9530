import { request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import request from 'supertest';
import { DockerDeployment } from '@app/deployment';
import { Backend, TestApp, createTestApp } from '../../support/app';
import { DEMO_IMAGE, ensureDemoImage, testDocker } from '../../support/docker';

/**
 * Hostile input to exec (issue 10, items 1, 3 and 5): argv over the limits, an empty program,
 * binary output, output floods against the process-wide budget, clients that leave mid-answer.
 * Both backends, real Docker.
 */
const BUDGET = 1024 * 1024;

describe.each<Backend>(['postgres+redis', 'embedded'])('hostile exec input (%s)', (backend) => {
  let t: TestApp;
  let http: ReturnType<typeof request>;
  let id: string;
  let containerId: string;

  const exec = (body: object) => http.post(`/v1/sandboxes/${id}/exec`).send(body);
  const budgetUsed = (): number => t.app.get(DockerDeployment).execOutputBudget.usedBytes;
  const processes = async (): Promise<string> =>
    (await exec({ command: ['ps', '-o', 'args'] }).expect(200)).body.stdout as string;

  beforeAll(async () => {
    await ensureDemoImage();
    t = await createTestApp(backend, {
      EXEC_OUTPUT_LIMIT: String(BUDGET),
      EXEC_OUTPUT_BUDGET: String(BUDGET),
    });
    // Listening, so that raw sockets can reach it too.
    await t.app.listen(0, '127.0.0.1');
    http = request(t.app.getHttpServer());
    const created = await http
      .post('/v1/sandboxes?wait=true')
      .send({ image: DEMO_IMAGE, memory: '128m' })
      .expect(200);
    id = created.body.id as string;
    containerId = created.body.containerId as string;
  });

  afterAll(async () => {
    await t?.close();
  });

  afterEach(() => {
    // Whatever a test did, every byte it held is given back.
    expect(budgetUsed()).toBe(0);
  });

  describe('argv (item 3)', () => {
    it('refuses more arguments than the limit with a 400 naming the limit', async () => {
      const res = await exec({ command: ['true', ...Array<string>(4096).fill('x')] }).expect(400);
      expect(res.body.code).toBe('VALIDATION_FAILED');
      expect(Object.keys(res.body.details.fields)).toEqual(['command']);
      expect(res.body.message).toContain('4097 arguments; at most 4096');
    });

    it('refuses one argument over the kernel limit with a 400 naming it, not a 422 later', async () => {
      const res = await exec({ command: ['echo', 'y'.repeat(200_000)] }).expect(400);
      expect(res.body.message).toContain('command[1] is 200000 bytes');
      expect(res.body.message).toContain('131071');
      const script = await exec({ command: `echo ${'y'.repeat(200_000)}` }).expect(400);
      expect(script.body.message).toContain('131071');
    });

    it('accepts the largest argument allowed', async () => {
      const arg = 'z'.repeat(131_071);
      const res = await exec({ command: ['printf', '%s', arg] }).expect(200);
      expect(res.body.stdout).toBe(arg);
    });

    it.each<[string, unknown, string]>([
      ['an empty program name', [''], 'command[0] (the program to run) must not be empty'],
      ['an empty argv', [], 'non-empty array'],
      ['a blank script', '   ', 'must not be empty'],
      ['a NUL in an argument', ['echo', 'a\u0000b'], 'command[1] must not contain NUL'],
      ['a non-string argument', ['echo', 5], 'command[1] must be a string'],
    ])('refuses %s with 400 at the edge', async (_case, command, message) => {
      const res = await exec({ command }).expect(400);
      expect(res.body.code).toBe('VALIDATION_FAILED');
      expect(res.body.message).toContain(message);
    });
  });

  describe('binary output (item 5)', () => {
    // Every byte value, twice: NULs, control bytes and bytes that are not UTF-8.
    const script =
      'i=0; while [ $i -lt 256 ]; do printf "\\\\$(printf \'%03o\' $i)"; i=$((i+1)); done';
    const allBytes = Buffer.from([...Array(256).keys()]);

    it('gives the exact bytes as base64 in the buffered answer', async () => {
      const res = await exec({
        command: ['sh', '-c', `${script}; ${script} >&2`],
        outputEncoding: 'base64',
      }).expect(200);
      expect(res.body.outputEncoding).toBe('base64');
      expect(Buffer.from(res.body.stdout as string, 'base64')).toEqual(allBytes);
      expect(Buffer.from(res.body.stderr as string, 'base64')).toEqual(allBytes);
    });

    it('gives the exact bytes of a large output as base64, written piece by piece', async () => {
      const res = await exec({
        command: ['sh', '-c', 'head -c 300000 /dev/urandom > /tmp/r.bin; cat /tmp/r.bin'],
        outputEncoding: 'base64',
      }).expect(200);
      // The files API gives the raw bytes the exec wrote.
      const file = await http
        .get(`/v1/sandboxes/${id}/files?path=/tmp/r.bin`)
        .buffer(true)
        .parse((res, callback) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('end', () => callback(null, Buffer.concat(chunks)));
        })
        .expect(200);
      const got = Buffer.from(res.body.stdout as string, 'base64');
      expect(got).toHaveLength(300_000);
      expect(got.equals(file.body as Buffer)).toBe(true);
    });

    it('gives the exact bytes as base64 in a stream', async () => {
      const res = await exec({ command: ['sh', '-c', script], outputEncoding: 'base64' })
        .set('Accept', 'application/x-ndjson')
        .expect(200);
      const events = res.text
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line) as { type: string; data?: string; exitCode?: number });
      const data = Buffer.concat(
        events
          .filter((e) => e.type === 'stdout')
          .map((e) => Buffer.from(e.data as string, 'base64')),
      );
      expect(data).toEqual(allBytes);
      expect(events.at(-1)).toMatchObject({ type: 'exit', exitCode: 0 });
    });

    it('keeps a UTF-8 character split across two chunks of a stream whole', async () => {
      // "é" is 0xC3 0xA9: the first byte, a pause (a separate chunk), then the second.
      const res = await exec({ command: ['sh', '-c', "printf '\\303'; sleep 1; printf '\\251'"] })
        .set('Accept', 'application/x-ndjson')
        .expect(200);
      const text = res.text
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line) as { type: string; data?: string })
        .filter((e) => e.type === 'stdout')
        .map((e) => e.data)
        .join('');
      expect(text).toBe('é');
    });

    it('answers utf8 by default, and refuses an unknown encoding', async () => {
      const res = await exec({ command: ['echo', 'hé'] }).expect(200);
      expect(res.body).toMatchObject({ stdout: 'hé\n', outputEncoding: 'utf8' });
      const bad = await exec({ command: ['true'], outputEncoding: 'hex' }).expect(400);
      expect(bad.body.message).toContain('outputEncoding must be utf8 or base64');
    });
  });

  describe('output budget (item 5)', () => {
    it('refuses an exec with 503, Retry-After and a code while the budget is spent', async () => {
      // Holds the whole budget (the per-stream limit equals it) for 3 s.
      const holder = exec({ command: ['sh', '-c', `head -c ${BUDGET} /dev/zero; sleep 3`] });
      const held = holder.then((res) => res);
      await until(() => budgetUsed() >= BUDGET);
      const refused = await exec({ command: ['true'] }).expect(503);
      expect(refused.headers['retry-after']).toBe('5');
      expect(refused.body).toMatchObject({
        statusCode: 503,
        code: 'EXEC_OUTPUT_BUDGET_EXHAUSTED',
        details: { limitBytes: BUDGET, retryAfterSeconds: 5 },
      });
      expect(refused.body.message).toContain('EXEC_OUTPUT_BUDGET');
      const done = await held;
      expect(done.status).toBe(200);
      expect(done.body.stdout).toHaveLength(BUDGET);
      // Given back once answered: the next exec runs.
      await exec({ command: ['true'] }).expect(200);
    });

    it('stops an exec whose output runs out of budget mid-way and kills its process tree', async () => {
      const holder = exec({ command: ['sh', '-c', 'head -c 700000 /dev/zero; sleep 3'] });
      const held = holder.then((res) => res);
      await until(() => budgetUsed() >= 700_000);
      const refused = await exec({
        command: ['sh', '-c', 'head -c 700000 /dev/zero; exec sleep 301'],
      }).expect(503);
      expect(refused.body.code).toBe('EXEC_OUTPUT_BUDGET_EXHAUSTED');
      expect(refused.headers['retry-after']).toBe('5');
      expect((await held).status).toBe(200);
      expect(await processes()).not.toContain('sleep 301');
    });

    it('does not count streamed output against the budget', async () => {
      const res = await exec({ command: ['head', '-c', String(3 * BUDGET), '/dev/zero'] })
        .set('Accept', 'application/x-ndjson')
        .expect(200);
      expect(res.text).toContain('"type":"exit"');
    });
  });

  describe('clients that leave (item 1)', () => {
    it('survives a client leaving a large buffered answer mid-body, and gives the budget back', async () => {
      const port = (t.app.getHttpServer().address() as AddressInfo).port;
      await new Promise<void>((resolve, reject) => {
        const req = httpRequest(
          {
            host: '127.0.0.1',
            port,
            method: 'POST',
            path: `/v1/sandboxes/${id}/exec`,
            headers: { 'content-type': 'application/json' },
          },
          (res) => {
            res.once('data', () => {
              // One piece read, then the socket goes away with most of the answer unwritten.
              req.destroy();
              resolve();
            });
          },
        );
        req.on('error', () => undefined);
        req.on('close', () => resolve());
        req.end(JSON.stringify({ command: ['head', '-c', String(BUDGET), '/dev/zero'] }));
        setTimeout(() => reject(new Error('no answer')), 60_000).unref();
      });
      await until(() => budgetUsed() === 0);
      await exec({ command: ['true'] }).expect(200);
    });

    it('kills a buffered exec whose client leaves before the answer', async () => {
      const port = (t.app.getHttpServer().address() as AddressInfo).port;
      const req = httpRequest({
        host: '127.0.0.1',
        port,
        method: 'POST',
        path: `/v1/sandboxes/${id}/exec`,
        headers: { 'content-type': 'application/json' },
      });
      req.on('error', () => undefined);
      req.end(
        JSON.stringify({ command: ['sh', '-c', 'head -c 500000 /dev/zero; exec sleep 302'] }),
      );
      await until(() => budgetUsed() >= 500_000);
      req.destroy();
      await until(() => budgetUsed() === 0);
      await until(async () => !(await processes()).includes('sleep 302'));
    });
  });

  it('leaves no exec running', async () => {
    const top = (await testDocker().getContainer(containerId).top({ ps_args: '-o pid,args' })) as {
      Processes: string[][];
    };
    const args = top.Processes.map((row) => row.join(' ')).join('\n');
    expect(args).not.toMatch(/sleep 30[12]/);
  });
});

/** Polls `check` until it holds (up to 30 s); a test's failure, not a timing assertion. */
async function until(check: () => boolean | Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not reached within 30 s');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
