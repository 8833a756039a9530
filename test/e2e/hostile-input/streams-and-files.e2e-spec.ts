import { randomBytes } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';
import request from 'supertest';
import { Backend, TestApp, createTestApp } from '../../support/app';
import { DEMO_IMAGE, ensureDemoImage, execIn } from '../../support/docker';

/**
 * Hostile input to the HTTP edge and the files API, on both backends: every one is a 4xx with a
 * code, never a 5xx, a reset connection or a broken sandbox.
 */

const LIMIT = 1024 * 1024;

interface Answer {
  status: number;
  body: Record<string, unknown>;
}

/**
 * A chunked PUT that keeps sending until the server answers (or `total` bytes went out), as a
 * client uploading a stream of unknown length does. Resolves with the answer; rejects when the
 * connection is reset before one arrives.
 */
function chunkedUpload(url: string, total: number, chunkBytes = 64 * 1024): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method: 'PUT', headers: { 'transfer-encoding': 'chunked' } });
    let answered = false;
    req.on('response', (res) => {
      answered = true;
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) as Record<string, unknown> });
      });
      res.on('error', reject);
    });
    req.on('error', (error) => {
      if (!answered) reject(error);
    });
    let sent = 0;
    const pump = (): void => {
      while (!answered && sent < total) {
        const n = Math.min(chunkBytes, total - sent);
        sent += n;
        if (!req.write(randomBytes(n))) {
          req.once('drain', pump);
          return;
        }
      }
      if (!answered) req.end();
    };
    pump();
  });
}

const BACKENDS: Backend[] = ['postgres+redis', 'embedded'];

describe.each(BACKENDS)('hostile streams and file paths (%s)', (backend) => {
  let t: TestApp;
  let http: ReturnType<typeof request>;
  let base: string;
  let id: string;
  let containerId: string;

  beforeAll(async () => {
    await ensureDemoImage();
    t = await createTestApp(backend, { FILE_SIZE_LIMIT: String(LIMIT) });
    await t.app.listen(0, '127.0.0.1');
    const { port } = t.app.getHttpServer().address() as AddressInfo;
    base = `http://127.0.0.1:${port}`;
    http = request(t.app.getHttpServer());
    const created = await http.post('/v1/sandboxes?wait=true').send({ image: DEMO_IMAGE });
    expect(created.status).toBe(200);
    id = created.body.id as string;
    containerId = created.body.containerId as string;
  });

  afterAll(async () => {
    await t?.close();
  });

  describe('JSON bodies', () => {
    it.each(['/v1/sandboxes', '/v1/sandboxes/x/exec'])(
      'a deeply nested body to %s is 400 JSON_TOO_DEEP, not a stack overflow',
      async (route) => {
        const path = route.replace('/x/', `/${id}/`);
        const deep = `${'['.repeat(400_000)}${']'.repeat(400_000)}`;
        const res = await http.post(path).set('content-type', 'application/json').send(deep);
        expect(res.status).toBe(400);
        expect(res.body.code).toBe('JSON_TOO_DEEP');
      },
    );

    it('brackets inside strings do not count as nesting', async () => {
      const res = await http
        .post(`/v1/sandboxes/${id}/exec`)
        .send({ command: ['echo', '[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[['] });
      expect(res.status).toBe(200);
      expect(res.body.exitCode).toBe(0);
    });

    it('an unknown Content-Encoding is 415 UNSUPPORTED_ENCODING', async () => {
      const res = await http
        .post(`/v1/sandboxes/${id}/exec`)
        .set('content-type', 'application/json')
        .set('content-encoding', 'bogus')
        .send('{"command":"true"}');
      expect(res.status).toBe(415);
      expect(res.body.code).toBe('UNSUPPORTED_ENCODING');
    });

    it('a body that is not what its Content-Encoding says is 400 MALFORMED_JSON', async () => {
      const res = await http
        .post(`/v1/sandboxes/${id}/exec`)
        .set('content-type', 'application/json')
        .set('content-encoding', 'gzip')
        .send('{"command":"true"}');
      expect(res.status).toBe(400);
      expect(res.body.code).toBe('MALFORMED_JSON');
    });

    it('a gzip body that is gzip still works', async () => {
      const res = await fetch(`${base}/v1/sandboxes/${id}/exec`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' },
        body: gzipSync(JSON.stringify({ command: 'echo zipped' })),
      });
      expect(res.status).toBe(200);
      expect(((await res.json()) as { stdout: string }).stdout).toBe('zipped\n');
    });
  });

  describe('uploads', () => {
    it('a file upload with a Content-Encoding is 415 UNSUPPORTED_ENCODING', async () => {
      const res = await http
        .put(`/v1/sandboxes/${id}/files?path=/tmp/zipped`)
        .set('content-encoding', 'gzip')
        .send(gzipSync('hello'));
      expect(res.status).toBe(415);
      expect(res.body.code).toBe('UNSUPPORTED_ENCODING');
    });

    it('a chunked upload over FILE_SIZE_LIMIT is answered 413 FILE_TOO_LARGE, not reset', async () => {
      const answer = await chunkedUpload(
        `${base}/v1/sandboxes/${id}/files?path=/tmp/too-big`,
        4 * LIMIT,
      );
      expect(answer.status).toBe(413);
      expect(answer.body.code).toBe('FILE_TOO_LARGE');
      const after = await http.get(`/v1/sandboxes/${id}/files?path=/tmp/too-big`);
      expect(after.status).toBe(404);
    });

    it('a chunked upload within the limit arrives whole', async () => {
      const data = randomBytes(LIMIT - 1);
      const put = await fetch(`${base}/v1/sandboxes/${id}/files?path=/tmp/chunked.bin`, {
        method: 'PUT',
        body: new Blob([data]).stream(),
        duplex: 'half',
      });
      expect(put.status).toBe(200);
      const got = await fetch(`${base}/v1/sandboxes/${id}/files?path=/tmp/chunked.bin`);
      expect(Buffer.from(await got.arrayBuffer()).equals(data)).toBe(true);
    });
  });

  describe('paths', () => {
    beforeAll(async () => {
      const made = await execIn(containerId, [
        'sh',
        '-c',
        'ln -s /tmp/loop-b /tmp/loop-a && ln -s /tmp/loop-a /tmp/loop-b && ln -s /tmp/self /tmp/self',
      ]);
      expect(made.exitCode).toBe(0);
    });

    it.each(['/tmp/loop-a', '/tmp/loop-a/x', '/tmp/self'])(
      'a symlink loop at %s is 400 SYMLINK_LOOP for read, write and delete',
      async (path) => {
        const url = `/v1/sandboxes/${id}/files?path=${path}`;
        for (const res of [
          await http.get(url),
          await http.put(url).send(Buffer.from('x')),
          await http.delete(url),
        ]) {
          expect(res.status).toBe(400);
          expect(res.body.code).toBe('SYMLINK_LOOP');
        }
      },
    );

    it.each(['/etc/hosts', '/etc/resolv.conf', '/etc/hostname', '/proc/x', '/sys/x', '/dev/x'])(
      'writing %s is 409 PATH_PROTECTED',
      async (path) => {
        const res = await http
          .put(`/v1/sandboxes/${id}/files?path=${path}`)
          .send(Buffer.from('127.0.0.1 evil\n'));
        expect(res.status).toBe(409);
        expect(res.body.code).toBe('PATH_PROTECTED');
      },
    );

    it.each(['/dev', '/dev/null', '/proc/1', '/sys/fs', '/etc/hosts', '/etc', '/data/logs'])(
      'deleting %s is 409 PATH_PROTECTED, and the sandbox keeps working',
      async (path) => {
        const res = await http.delete(`/v1/sandboxes/${id}/files?path=${path}`);
        expect(res.status).toBe(409);
        expect(res.body.code).toBe('PATH_PROTECTED');
        const exec = await http
          .post(`/v1/sandboxes/${id}/exec`)
          .send({ command: 'echo ok > /dev/null && cat /etc/hostname >/dev/null && echo fine' });
        expect(exec.body).toMatchObject({ exitCode: 0, stdout: 'fine\n' });
      },
    );

    it('a directory holding a file over 64 MB is listed whole, its sizes right', async () => {
      const made = await execIn(containerId, [
        'sh',
        '-c',
        'mkdir /tmp/listing && head -c 70000000 /dev/zero > /tmp/listing/a-big.bin && ' +
          'for n in b c d; do echo $n > /tmp/listing/$n.txt; done && mkdir /tmp/listing/e-dir',
      ]);
      expect(made.exitCode).toBe(0);
      const res = await http.get(`/v1/sandboxes/${id}/files?path=/tmp/listing`);
      expect(res.status).toBe(200);
      expect(res.body.truncated).toBe(false);
      const entries = res.body.entries as { name: string; type: string; size: number }[];
      expect(entries.map((e) => [e.name, e.type])).toEqual([
        ['a-big.bin', 'file'],
        ['b.txt', 'file'],
        ['c.txt', 'file'],
        ['d.txt', 'file'],
        ['e-dir', 'directory'],
      ]);
      expect(entries[0].size).toBe(70_000_000);
    });

    it('an ordinary file can still be written and deleted', async () => {
      const url = `/v1/sandboxes/${id}/files?path=/tmp/plain`;
      expect((await http.put(url).send(Buffer.from('x'))).status).toBe(200);
      expect((await http.delete(url)).status).toBe(204);
    });
  });
});
