import { MemoryKeyValueStore } from '../kv/memory-key-value-store';
import { makeSandboxInfo } from '../testing/sandbox-fixtures';
import { aliveKey, legacyTimeoutKey } from './cache-keys';
import { SandboxCache } from './sandbox-cache';

describe('SandboxCache', () => {
  let kv: MemoryKeyValueStore;
  let cache: SandboxCache;

  beforeEach(() => {
    kv = new MemoryKeyValueStore();
    cache = new SandboxCache(kv);
  });

  it('never lets a DB-only field reach the cache', async () => {
    const record = {
      ...makeSandboxInfo({ id: 'sbx-1' }),
      spec: { env: { TOKEN: 'secret-value' } },
      machineSnapshot: { context: 'internal' },
      version: 7,
    };
    await cache.writeAlive('sbx-1', record);
    const raw = await kv.get(aliveKey('sbx-1'));
    expect(raw).not.toBeNull();
    expect(Object.keys(JSON.parse(raw ?? '{}')).sort()).toEqual(
      Object.keys(makeSandboxInfo()).sort(),
    );
    expect(raw).not.toContain('secret-value');
    expect(raw).not.toContain('internal');
  });

  it('a merge cannot smuggle a DB-only field in either', async () => {
    await cache.writeAlive('sbx-1', makeSandboxInfo({ id: 'sbx-1' }));
    const patch = { state: 'running', spec: { env: { TOKEN: 'secret-value' } } } as object;
    await cache.mergeAlive('sbx-1', patch, makeSandboxInfo({ id: 'sbx-1' }));
    const raw = (await kv.get(aliveKey('sbx-1'))) ?? '';
    expect(raw).not.toContain('secret-value');
    expect(JSON.parse(raw)).toMatchObject({ state: 'running' });
  });

  it('merges the patch on top of the cached value', async () => {
    await cache.writeAlive('sbx-1', makeSandboxInfo({ id: 'sbx-1', host: 'cached-host' }));
    await cache.mergeAlive('sbx-1', { state: 'running' }, makeSandboxInfo({ id: 'sbx-1' }));
    expect(await cache.readAlive('sbx-1')).toMatchObject({ state: 'running', host: 'cached-host' });
  });

  it('merges on top of the fallback after a cache loss', async () => {
    const fallback = makeSandboxInfo({ id: 'sbx-1', host: 'db-host' });
    await cache.mergeAlive('sbx-1', { state: 'running' }, fallback);
    expect(await cache.readAlive('sbx-1')).toEqual({ ...fallback, state: 'running' });
  });

  it.each([
    ['corrupt JSON', '{not json'],
    ['an incomplete object', JSON.stringify({ id: 'sbx-1', state: 'running' })],
    ['another sandbox', JSON.stringify(makeSandboxInfo({ id: 'sbx-2' }))],
    ['an array', '[]'],
  ])('treats %s as a miss', async (_label, raw) => {
    await kv.set(aliveKey('sbx-1'), raw);
    expect(await cache.readAlive('sbx-1')).toBeNull();
  });

  it('reads back exactly what was written', async () => {
    const info = makeSandboxInfo({ id: 'sbx-1', labels: { a: 'b' } });
    await cache.writeAlive('sbx-1', info);
    expect(await cache.readAlive('sbx-1')).toEqual(info);
  });

  it('reads the allowlisted fields only from an entry holding more', async () => {
    const info = makeSandboxInfo({ id: 'sbx-1' });
    await kv.set(aliveKey('sbx-1'), JSON.stringify({ ...info, spec: { env: { T: 'secret' } } }));
    const read = await cache.readAlive('sbx-1');
    expect(read).toEqual(info);
    expect(read).not.toHaveProperty('spec');
  });

  it('evicts the entry and a timeout key an older version left behind', async () => {
    await cache.writeAlive('sbx-1', makeSandboxInfo({ id: 'sbx-1' }));
    await kv.set(legacyTimeoutKey('sbx-1'), '{"idleTimeoutSeconds":60}');
    await cache.evict('sbx-1');
    expect(await kv.get(aliveKey('sbx-1'))).toBeNull();
    expect(await kv.get(legacyTimeoutKey('sbx-1'))).toBeNull();
  });
});
