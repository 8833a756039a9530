import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { TestApp, createTestApp } from '../support/app';
import { newAdminKey } from '../support/api-keys';

const CLI = join(__dirname, '..', '..', 'dist', 'apps', 'sandboxctl', 'main.js');

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** `sandboxctl keys create|ls|revoke` (the built CLI) against the real service with keys on. */
describe('sandboxctl keys', () => {
  const admin = newAdminKey();
  let t: TestApp;
  let url: string;

  function cli(args: string[], apiKey: string | undefined): Promise<Run> {
    const env: NodeJS.ProcessEnv = { ...process.env, SANDBOXD_URL: url };
    if (apiKey === undefined) delete env.SANDBOXD_API_KEY;
    else env.SANDBOXD_API_KEY = apiKey;
    const child = spawn(process.execPath, [CLI, ...args], { env });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    return new Promise((resolve, reject) => {
      child.on('error', reject);
      child.on('close', (status) => resolve({ status, stdout, stderr }));
    });
  }

  beforeAll(async () => {
    if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run npm run build first`);
    t = await createTestApp('embedded', { ADMIN_API_KEY: admin, SCHEDULER_ENABLED: 'false' });
    await t.app.listen(0, '127.0.0.1');
    url = `http://127.0.0.1:${(t.app.getHttpServer().address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    await t?.close();
  });

  it('should make, list and revoke a key with the admin key from SANDBOXD_API_KEY', async () => {
    const made = await cli(['keys', 'create', '--tenant', 'team-a', '--name', 'ci runner'], admin);
    expect(made.status).toBe(0);
    const key = made.stdout.trim();
    expect(key).toMatch(/^sbxd_[0-9a-f]{16}_[A-Za-z0-9_-]{43}$/);
    expect(made.stderr).toMatch(/store it now, it is not shown again/);
    const id = key.slice(5, 21);

    const listed = await cli(['keys', 'ls'], admin);
    expect(listed.status).toBe(0);
    expect(listed.stdout).toMatch(/ID\s+TENANT\s+NAME\s+PREFIX\s+CREATED\s+LAST USED/);
    expect(listed.stdout).toContain(`sbxd_${id}`);
    expect(listed.stdout).toContain('ci runner');
    expect(listed.stdout).not.toContain(key.slice(22));

    // The tenant's key works for its own commands, not for the admin's.
    expect((await cli(['ls'], key)).status).toBe(0);
    const forbidden = await cli(['keys', 'ls'], key);
    expect(forbidden.status).toBe(1);
    expect(forbidden.stderr).toMatch(/^error: FORBIDDEN: /);

    const json = await cli(['--json', 'keys', 'ls', '--tenant', 'team-a'], admin);
    expect(JSON.parse(json.stdout)).toEqual([
      expect.objectContaining({ id, tenant: 'team-a', name: 'ci runner', prefix: `sbxd_${id}` }),
    ]);

    const revoked = await cli(['keys', 'revoke', id], admin);
    expect(revoked.status).toBe(0);
    expect(revoked.stdout.trim()).toBe(id);
    const refused = await cli(['ls'], key);
    expect(refused.status).toBe(1);
    expect(refused.stderr).toMatch(/^error: UNAUTHENTICATED: /);
  });

  it('should say what is wrong without a key, with an unknown id and without --tenant', async () => {
    const none = await cli(['keys', 'ls'], undefined);
    expect(none.status).toBe(1);
    expect(none.stderr).toMatch(/^error: UNAUTHENTICATED: no API key/);
    const unknown = await cli(['keys', 'revoke', '0123456789abcdef'], admin);
    expect(unknown.status).toBe(1);
    expect(unknown.stderr).toMatch(/^error: API_KEY_NOT_FOUND: /);
    const usage = await cli(['keys', 'create'], admin);
    expect(usage.status).toBe(2);
    expect(usage.stderr).toMatch(/--tenant/);
    const bad = await cli(['keys', 'create', '--tenant', 'Not A Tenant'], admin);
    expect(bad.status).toBe(1);
    expect(bad.stderr).toMatch(/^error: VALIDATION_FAILED: tenant/);
  });
});
