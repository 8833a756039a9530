import { E2bConfig } from '@app/config';
import { ANONYMOUS_ACTOR, CodedError } from '@app/domain';
import type { SandboxAccessTokens, SandboxService } from '@app/sandbox';
import { E2bControlPlane } from './control-plane';
import { E2bApiError } from './e2b-errors';

/** The control plane over a SandboxService whose engine check answers `present`. */
function controlPlane(present: (image: string) => Promise<boolean>) {
  const created: unknown[] = [];
  const sandboxes = {
    isImagePresent: present,
    create: (input: unknown) => {
      created.push(input);
      return Promise.reject(new Error('not in this spec'));
    },
  } as unknown as SandboxService;
  const config = {
    port: null,
    templates: new Map([['base', 'sandboxd/demo:latest']]),
  } as E2bConfig;
  return { plane: new E2bControlPlane(config, sandboxes, {} as SandboxAccessTokens), created };
}

async function refusalOf(promise: Promise<unknown>): Promise<E2bApiError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof E2bApiError) return error;
    throw error;
  }
  throw new Error('not refused');
}

describe('E2bControlPlane.create', () => {
  it('should answer an engine that cannot say as 503, not as "template not found"', async () => {
    const down = () =>
      Promise.reject(new CodedError('RUNTIME_UNAVAILABLE', 'the Docker engine is unreachable'));
    const { plane, created } = controlPlane(down);
    const refused = await refusalOf(plane.create(ANONYMOUS_ACTOR, { templateID: 'alpine:3.20' }));
    expect(refused.body).toEqual({
      code: 503,
      message: expect.stringMatching(/could not be checked: the container engine is unavailable/),
    });
    expect(created).toEqual([]);
  });

  it('should answer "template not found" only when the engine says it has no such image', async () => {
    const { plane } = controlPlane(() => Promise.resolve(false));
    const refused = await refusalOf(plane.create(ANONYMOUS_ACTOR, { templateID: 'alpine:3.20' }));
    expect(refused.body).toMatchObject({ code: 404, message: expect.stringMatching(/not found/) });
  });

  it("should check envVars and metadata by /v1's rules (ENV_RULES, LABEL_RULES)", async () => {
    const { plane, created } = controlPlane(() => Promise.resolve(true));
    const bad = [
      { envVars: { '1BAD': 'x' } },
      { envVars: { A: 'x'.repeat(32769) } },
      { envVars: { A: 'nul\0' } },
      { envVars: Object.fromEntries(Array.from({ length: 257 }, (_, i) => [`V${i}`, 'x'])) },
      { metadata: { 'bad key': 'x' } },
      { metadata: { k: 'line\nbreak' } },
      { metadata: { k: 'x'.repeat(513) } },
      // 63 of metadata and the template's label: the 64 labels a sandbox may have.
      { metadata: Object.fromEntries(Array.from({ length: 64 }, (_, i) => [`m${i}`, 'x'])) },
    ];
    for (const body of bad) {
      const refused = await refusalOf(
        plane.create(ANONYMOUS_ACTOR, { templateID: 'base', ...body }),
      );
      expect(refused.status).toBe(400);
    }
    expect(created).toEqual([]);
    const fits = Object.fromEntries(Array.from({ length: 63 }, (_, i) => [`m${i}`, 'x']));
    await expect(
      plane.create(ANONYMOUS_ACTOR, { templateID: 'base', metadata: fits }),
    ).rejects.toThrow('not in this spec');
    expect(created).toHaveLength(1);
  });
});
