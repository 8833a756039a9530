import { createHash } from 'node:crypto';
import { Code, ConnectError } from '@connectrpc/connect';
import { CodedError } from '@app/domain';
import type { SandboxInfo } from '@app/domain';
import type { SandboxAccessToken, SandboxAccessTokens, SandboxService } from '@app/sandbox';
import { EnvdAuth, SignedFileRequest } from './envd-auth';

/** The tokens a store would hold, and the sandboxes there are. */
function authWith(tokens: Record<string, string | null>, sandboxes: Record<string, string> = {}) {
  const reads: string[] = [];
  const store = {
    find: (id: string): Promise<SandboxAccessToken | null> => {
      reads.push(id);
      return Promise.resolve(id in tokens ? { token: tokens[id] } : null);
    },
  } as unknown as SandboxAccessTokens;
  const service = {
    get: (_actor: unknown, id: string): Promise<SandboxInfo> => {
      const state = sandboxes[id];
      if (state === undefined) {
        return Promise.reject(new CodedError('SANDBOX_NOT_FOUND', `Sandbox ${id} does not exist`));
      }
      return Promise.resolve({ id, state, operation: null } as SandboxInfo);
    },
  } as unknown as SandboxService;
  return { auth: new EnvdAuth(store, service), reads };
}

async function codeOf(promise: Promise<unknown>): Promise<Code | 'ok'> {
  try {
    await promise;
    return 'ok';
  } catch (error) {
    if (error instanceof ConnectError) return error.code;
    throw error;
  }
}

/** What the SDK's getSignature computes. */
function sdkSignature(parts: string[]): string {
  const digest = createHash('sha256').update(parts.join(':')).digest('base64');
  return `v1_${digest.replace(/=+$/, '')}`;
}

describe('EnvdAuth', () => {
  it("should take the sandbox's own token and refuse a missing or foreign one as unauthenticated", async () => {
    const { auth } = authWith({ a: 'token-a', b: 'token-b' });
    expect(await codeOf(auth.check('a', 'token-a'))).toBe('ok');
    expect(await codeOf(auth.check('a', 'token-b'))).toBe(Code.Unauthenticated);
    expect(await codeOf(auth.check('a', null))).toBe(Code.Unauthenticated);
    expect(await codeOf(auth.check('a', 'token-a-but-longer'))).toBe(Code.Unauthenticated);
  });

  it('should let any call into an open sandbox (secure: false)', async () => {
    const { auth } = authWith({ open: null });
    expect(await codeOf(auth.check('open', null))).toBe('ok');
    expect(await codeOf(auth.check('open', 'anything'))).toBe('ok');
  });

  it('should tell a sandbox without a token from one that is not there', async () => {
    const { auth } = authWith({}, { made: 'running', gone: 'deleted' });
    const refused = auth.check('made', 'x').catch((error: ConnectError) => error);
    expect((await refused) as ConnectError).toMatchObject({
      code: Code.Unauthenticated,
      rawMessage: expect.stringContaining('connect to it through the E2B API first'),
    });
    expect(await codeOf(auth.check('gone', 'x'))).toBe(Code.Unavailable);
    expect(await codeOf(auth.check('never', 'x'))).toBe(Code.Unavailable);
  });

  it('should read a token once, and never keep a sandbox without one', async () => {
    const { auth, reads } = authWith({ a: 'token-a' }, { made: 'running' });
    await auth.check('a', 'token-a');
    await auth.check('a', 'token-a');
    await auth.check('a', 'wrong').catch(() => undefined);
    await auth.check('made', 'x').catch(() => undefined);
    await auth.check('made', 'x').catch(() => undefined);
    expect(reads).toEqual(['a', 'made', 'made']);
  });

  describe('on /files', () => {
    const signed = (over: Partial<SignedFileRequest> = {}): SignedFileRequest => ({
      path: '/tmp/f.txt',
      operation: 'read',
      user: '',
      signature: sdkSignature(['/tmp/f.txt', 'read', '', 'token-a']),
      expiration: null,
      ...over,
    });

    it('should take the signature of a signed URL when no token header is sent', async () => {
      const { auth } = authWith({ a: 'token-a' });
      expect(await codeOf(auth.checkFiles('a', null, signed()))).toBe('ok');
      const user = signed({
        user: 'user',
        signature: sdkSignature(['/tmp/f.txt', 'read', 'user', 'token-a']),
      });
      expect(await codeOf(auth.checkFiles('a', null, user))).toBe('ok');
    });

    it('should refuse a signature for another path, operation, user or token', async () => {
      const { auth } = authWith({ a: 'token-a' });
      for (const wrong of [
        signed({ path: '/tmp/other.txt' }),
        signed({ operation: 'write' }),
        signed({ user: 'root' }),
        signed({ signature: sdkSignature(['/tmp/f.txt', 'read', '', 'token-b']) }),
        signed({ signature: 'v1_' }),
      ]) {
        expect(await codeOf(auth.checkFiles('a', null, wrong))).toBe(Code.Unauthenticated);
      }
    });

    it('should refuse an expired signature, and one whose expiration was changed', async () => {
      const { auth } = authWith({ a: 'token-a' });
      const at = (seconds: number) => String(Math.floor(Date.now() / 1000) + seconds);
      const valid = signed({
        expiration: at(60),
        signature: sdkSignature(['/tmp/f.txt', 'read', '', 'token-a', at(60)]),
      });
      expect(await codeOf(auth.checkFiles('a', null, valid))).toBe('ok');
      const expired = signed({
        expiration: at(-60),
        signature: sdkSignature(['/tmp/f.txt', 'read', '', 'token-a', at(-60)]),
      });
      expect(await codeOf(auth.checkFiles('a', null, expired))).toBe(Code.Unauthenticated);
      const moved = { ...valid, expiration: at(3600) };
      expect(await codeOf(auth.checkFiles('a', null, moved))).toBe(Code.Unauthenticated);
    });

    it('should check a token header when one is sent, whatever the signature', async () => {
      const { auth } = authWith({ a: 'token-a' });
      expect(await codeOf(auth.checkFiles('a', 'token-a', signed({ signature: null })))).toBe('ok');
      expect(await codeOf(auth.checkFiles('a', 'token-b', signed()))).toBe(Code.Unauthenticated);
      expect(await codeOf(auth.checkFiles('a', null, signed({ signature: null })))).toBe(
        Code.Unauthenticated,
      );
    });
  });
});
