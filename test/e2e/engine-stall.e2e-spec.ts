import request from 'supertest';
import { KeyValueStore, sandboxLockKey } from '@app/meta-store';
import { Backend, TestApp, createTestApp, eventually } from '../support/app';
import { ensureDemoImage, testDockerSocketPath } from '../support/docker';
import { SocketProxy } from '../integration/deployment/socket-proxy';
import { createRunning } from '../support/sandboxes';

type Json = Record<string, any>;

/**
 * A Docker call that never returns does not hold its sandbox's lock: the call fails at its bound
 * with ENGINE_TIMEOUT, the sandbox is released with the reason recorded, and the next command on
 * it works. The service talks to the engine through a relay that can hold chosen calls.
 */
describe.each<Backend>(['postgres+redis', 'embedded'])('a hung Docker call (%s)', (backend) => {
  jest.setTimeout(120_000);
  const proxy = new SocketProxy(testDockerSocketPath());
  let t: TestApp;
  let http: ReturnType<typeof request>;

  beforeAll(async () => {
    await ensureDemoImage();
    await proxy.resume();
    t = await createTestApp(backend, {
      DOCKER_SOCKET_PATH: proxy.path,
      // Stop's bound is on top of STOP_TIMEOUT_SECONDS (2 in tests): 3 s in all.
      DOCKER_STOP_TIMEOUT_SECONDS: '1',
      DOCKER_START_TIMEOUT_SECONDS: '20',
      // Renewed every second, so a lock taken away is noticed long before the start's bound.
      LOCK_TTL_SECONDS: '3',
    });
    http = request(t.app.getHttpServer());
  });

  afterAll(async () => {
    await t?.close();
    await proxy.pause();
  });

  afterEach(() => {
    proxy.unstall();
    proxy.stalled.length = 0;
  });

  async function heldRequestAborted(): Promise<void> {
    await eventually(() => Promise.resolve(proxy.stalled.some((r) => r.aborted) || undefined));
  }

  it('releases a sandbox whose stop hung, with the reason, and a later stop works', async () => {
    const created = await createRunning(http);
    proxy.stall('POST', /^\/containers\/[^/]+\/stop/);

    const hung = await http.post(`/v1/sandboxes/${created.id}/stop`).expect(504);
    expect(hung.body.code).toBe('ENGINE_TIMEOUT');
    await heldRequestAborted();

    // Not stuck: no operation in flight, the reason is kept, the lock is free for the next command.
    const after = (await http.get(`/v1/sandboxes/${created.id}`).expect(200)).body as Json;
    expect(after).toMatchObject({ state: 'running', operation: null });
    expect(after.failureReason).toMatch(/stop call .* within 3 s \(DOCKER_STOP_TIMEOUT_SECONDS\)/);

    proxy.unstall();
    const stopped = await http.post(`/v1/sandboxes/${created.id}/stop`).expect(200);
    expect(stopped.body).toMatchObject({ state: 'stopped', operation: null });
    await http.delete(`/v1/sandboxes/${created.id}`).expect(204);
  });

  it('releases a sandbox whose restart hung, stopped with the reason, and a later restart works', async () => {
    const created = await createRunning(http);
    await http.post(`/v1/sandboxes/${created.id}/stop`).expect(200);
    proxy.stall('POST', /^\/containers\/[^/]+\/start/);

    const hung = await http.post(`/v1/sandboxes/${created.id}/restart`).expect(504);
    expect(hung.body.code).toBe('ENGINE_TIMEOUT');
    await heldRequestAborted();

    const after = (await http.get(`/v1/sandboxes/${created.id}`).expect(200)).body as Json;
    expect(after).toMatchObject({ state: 'stopped', operation: null });
    expect(after.failureReason).toMatch(
      /start call .* within 20 s \(DOCKER_START_TIMEOUT_SECONDS\)/,
    );

    proxy.unstall();
    const restarted = await http.post(`/v1/sandboxes/${created.id}/restart`).expect(200);
    expect(restarted.body).toMatchObject({ state: 'running', operation: null });
    await http.delete(`/v1/sandboxes/${created.id}?force=true`).expect(204);
  });

  it('aborts the Docker call in flight when the lock is lost, and a later command finishes it', async () => {
    const created = await createRunning(http);
    await http.post(`/v1/sandboxes/${created.id}/stop`).expect(200);
    proxy.stall('POST', /^\/containers\/[^/]+\/start/);

    const restarting = http.post(`/v1/sandboxes/${created.id}/restart`).then((res) => res);
    await eventually(() => Promise.resolve(proxy.stalled.length > 0 || undefined));
    // Another holder takes the lock: the next renewal sees it and the lock is lost.
    const kv = t.app.get(KeyValueStore);
    const key = sandboxLockKey(created.id);
    await kv.set(key, 'another-holder', 60_000);

    const answer = await restarting;
    expect(answer.status).toBe(409);
    expect(answer.body.code).toBe('SANDBOX_BUSY');
    await heldRequestAborted();

    // The other holder is done; the interrupted restart is finished by the next command.
    await kv.del(key);
    proxy.unstall();
    const stopped = await http.post(`/v1/sandboxes/${created.id}/stop`).expect(200);
    expect(stopped.body).toMatchObject({ state: 'stopped', operation: null });
    await http.delete(`/v1/sandboxes/${created.id}`).expect(204);
  });
});
