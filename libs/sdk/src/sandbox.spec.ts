import { SandboxdError } from './errors';
import { Transport } from './http';
import { Sandbox } from './sandbox';
import { fakeFetch, jsonResponse, sandboxView } from './testing/fake-fetch';

describe('Sandbox', () => {
  const handle = (responder: Parameters<typeof fakeFetch>[0]) => {
    const { fetch, calls } = fakeFetch(responder);
    return { sandbox: new Sandbox(new Transport({ baseUrl: 'http://h', fetch }), 'sb1'), calls };
  };

  it('should send lifecycle calls to their routes and keep the last view', async () => {
    const { sandbox, calls } = handle((call) =>
      call.method === 'DELETE'
        ? new Response(null, { status: 204 })
        : jsonResponse(200, sandboxView({ id: 'sb1', protected: call.method === 'PATCH' })),
    );
    await sandbox.restart();
    await sandbox.keepAlive();
    const view = await sandbox.setProtected(true);
    await sandbox.delete({ force: true });
    await sandbox.delete();
    expect(view.protected).toBe(true);
    expect(sandbox.info?.protected).toBe(true);
    expect(calls.map((c) => `${c.method} ${c.url.pathname}${c.url.search}`)).toEqual([
      'POST /v1/sandboxes/sb1/restart',
      'POST /v1/sandboxes/sb1/keepalive',
      'PATCH /v1/sandboxes/sb1',
      'DELETE /v1/sandboxes/sb1?force=true',
      'DELETE /v1/sandboxes/sb1',
    ]);
    expect(new TextDecoder().decode(calls[2].body)).toBe('{"protected":true}');
  });

  it('should exec with the request body the API expects', async () => {
    const result = {
      exitCode: 3,
      stdout: 'o',
      stderr: 'e',
      timedOut: false,
      truncated: false,
      durationMs: 5,
    };
    const { sandbox, calls } = handle(() => jsonResponse(200, result));
    await expect(
      sandbox.exec(['sh', '-c', 'exit 3'], { env: { A: 'b' }, cwd: '/tmp', timeoutSeconds: 5 }),
    ).resolves.toEqual(result);
    expect(calls[0].url.pathname).toBe('/v1/sandboxes/sb1/exec');
    expect(JSON.parse(new TextDecoder().decode(calls[0].body))).toEqual({
      command: ['sh', '-c', 'exit 3'],
      env: { A: 'b' },
      cwd: '/tmp',
      timeoutSeconds: 5,
    });
  });

  describe('files', () => {
    it('should upload raw bytes with path and octal mode in the query', async () => {
      const { sandbox, calls } = handle(() =>
        jsonResponse(200, { path: '/tmp/f', size: 3, mode: '0755' }),
      );
      await sandbox.writeFile('/tmp/f', Uint8Array.from([1, 2, 3]), { mode: 0o755 });
      await sandbox.writeFile('/tmp/g', 'hé', { mode: '0600' });
      expect(calls[0].method).toBe('PUT');
      expect(calls[0].url.pathname).toBe('/v1/sandboxes/sb1/files');
      expect(calls[0].url.searchParams.get('path')).toBe('/tmp/f');
      expect(calls[0].url.searchParams.get('mode')).toBe('0755');
      expect(calls[0].headers['Content-Type']).toBe('application/octet-stream');
      expect(Array.from(calls[0].body!)).toEqual([1, 2, 3]);
      expect(calls[1].url.searchParams.get('mode')).toBe('0600');
      expect(Array.from(calls[1].body!)).toEqual([0x68, 0xc3, 0xa9]);
    });

    it('should tell a file from a directory by the content type', async () => {
      const listing = {
        path: '/tmp',
        entries: [{ name: 'a', type: 'file', size: 1, mode: '0644', mtime: 'x' }],
      };
      const { sandbox, calls } = handle((call) =>
        call.url.searchParams.get('path') === '/tmp'
          ? jsonResponse(200, listing)
          : new Response('{"looks":"like json"}', {
              status: 200,
              headers: { 'Content-Type': 'application/octet-stream' },
            }),
      );
      const bytes = await sandbox.readFile('/tmp/data.json');
      expect(new TextDecoder().decode(bytes)).toBe('{"looks":"like json"}');
      await expect(sandbox.listDir('/tmp')).resolves.toEqual(listing);
      await expect(sandbox.readFile('/tmp')).rejects.toMatchObject({ code: 'NOT_A_FILE' });
      await expect(sandbox.listDir('/tmp/data.json')).rejects.toMatchObject({
        code: 'NOT_A_DIRECTORY',
      });
      expect(calls[0].url.searchParams.get('path')).toBe('/tmp/data.json');
    });

    it('should delete a file and list ports', async () => {
      const ports = [{ containerPort: 8080, hostAddress: '127.0.0.1', hostPort: 30001 }];
      const { sandbox, calls } = handle((call) =>
        call.method === 'DELETE'
          ? new Response(null, { status: 204 })
          : jsonResponse(200, { ports }),
      );
      await sandbox.deleteFile('/tmp/x y');
      await expect(sandbox.ports()).resolves.toEqual(ports);
      expect(calls[0].url.searchParams.get('path')).toBe('/tmp/x y');
      expect(calls[1].url.pathname).toBe('/v1/sandboxes/sb1/ports');
    });
  });

  describe('waitUntil', () => {
    it('should poll until the state is reached with no operation in flight', async () => {
      const views = [
        sandboxView({ state: 'pending', operation: 'starting' }),
        sandboxView({ state: 'pending', operation: 'starting' }),
        sandboxView({ state: 'running', operation: null }),
      ];
      const { sandbox, calls } = handle(() => jsonResponse(200, views.shift()));
      await expect(sandbox.waitUntil('running', { intervalMs: 1 })).resolves.toMatchObject({
        state: 'running',
      });
      expect(calls).toHaveLength(3);
    });

    it('should fail fast with UNEXPECTED_STATE when a start failed', async () => {
      const { sandbox, calls } = handle(() =>
        jsonResponse(200, sandboxView({ state: 'stopped', failureReason: 'image missing' })),
      );
      const error = await sandbox.waitUntil('running', { intervalMs: 1 }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(SandboxdError);
      expect(error).toMatchObject({
        code: 'UNEXPECTED_STATE',
        message: expect.stringContaining('image missing'),
      });
      expect(calls).toHaveLength(1);
    });

    it('should fail with WAIT_TIMEOUT when the state does not come', async () => {
      const { sandbox } = handle(() =>
        jsonResponse(200, sandboxView({ state: 'pending', operation: 'starting' })),
      );
      await expect(
        sandbox.waitUntil('running', { timeoutMs: 30, intervalMs: 5 }),
      ).rejects.toMatchObject({
        code: 'WAIT_TIMEOUT',
      });
    });
  });
});
