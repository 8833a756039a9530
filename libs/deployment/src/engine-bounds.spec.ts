// @app/config's DTO decorators need the Reflect metadata polyfill loaded first.
import 'reflect-metadata';
import { CodedError, isCodedError } from '@app/domain';
import { withEngineBound } from './engine-bounds';

/** A call that never answers, but records the signal it was given (as dockerode hands it on). */
function hangingCall(seen: AbortSignal[]): (signal: AbortSignal) => Promise<never> {
  return (signal) => {
    seen.push(signal);
    return new Promise<never>(() => undefined);
  };
}

describe('withEngineBound', () => {
  it('fails a call past its bound with ENGINE_TIMEOUT and aborts its signal', async () => {
    const seen: AbortSignal[] = [];
    const bound = { kind: 'stop', boundMs: 10, target: 'c1' } as const;
    const error: unknown = await withEngineBound(bound, hangingCall(seen)).catch((e) => e);
    expect(isCodedError(error, 'ENGINE_TIMEOUT')).toBe(true);
    expect((error as CodedError).details).toEqual({ call: 'stop', target: 'c1', boundMs: 10 });
    expect((error as Error).message).toContain('DOCKER_STOP_TIMEOUT_SECONDS');
    expect(seen[0].aborted).toBe(true);
  });

  it("ends with the caller's reason when the caller's signal aborts", async () => {
    const seen: AbortSignal[] = [];
    const controller = new AbortController();
    const lost = new Error('lock lost');
    const bound = {
      kind: 'start',
      boundMs: 60_000,
      target: 'c1',
      signal: controller.signal,
    } as const;
    const settled = withEngineBound(bound, hangingCall(seen)).catch((e: unknown) => e);
    controller.abort(lost);
    expect(await settled).toBe(lost);
    expect(seen[0].aborted).toBe(true);
  });

  it("passes an answer and the engine's own errors through", async () => {
    const bound = { kind: 'inspect', boundMs: 60_000, target: 'c1' } as const;
    expect(await withEngineBound(bound, () => Promise.resolve(42))).toBe(42);
    const refused = new Error('no such container');
    await expect(withEngineBound(bound, () => Promise.reject(refused))).rejects.toBe(refused);
  });
});
