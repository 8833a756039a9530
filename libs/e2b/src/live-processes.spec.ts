import type { ExecEvent } from '@app/sandbox';
import { HIGH_WATER_BYTES, LiveProcesses } from './live-processes';

const CHUNK = 64 * 1024;

/** An exec stream of `count` stdout chunks then an exit; `pulled` counts what was taken from it. */
function source(count: number) {
  const state = { pulled: 0 };
  async function* events(): AsyncGenerator<ExecEvent> {
    for (let i = 0; i < count; i += 1) {
      state.pulled += 1;
      await Promise.resolve();
      yield { type: 'stdout', data: Buffer.alloc(CHUNK) };
    }
    yield { type: 'exit', exitCode: 0, timedOut: false, truncated: false, durationMs: 1 };
  }
  return { state, iterator: events() };
}

const settle = () => new Promise((resolve) => setTimeout(resolve, 20));

describe('LiveProcesses', () => {
  it('should hold the pump back while a reader does not read, and go on when it does', async () => {
    const { state, iterator } = source(100);
    const first = new LiveProcesses().pump('s', 1, iterator, []);
    await settle();
    const held = state.pulled;
    expect(held * CHUNK).toBeLessThanOrEqual(HIGH_WATER_BYTES + CHUNK);
    let bytes = 0;
    let ended = false;
    for await (const out of first) {
      if (out.type === 'end') ended = true;
      else bytes += out.data.length;
    }
    expect(bytes).toBe(100 * CHUNK);
    expect(ended).toBe(true);
  });

  it('should drain to the end once its reader has gone, so the process runs on', async () => {
    const { state, iterator } = source(100);
    const live = new LiveProcesses();
    const first = live.pump('s', 1, iterator, []);
    first.close();
    await settle();
    expect(state.pulled).toBe(100);
    expect(live.subscribe('s', 1)).toBeNull();
  });

  it('should give a later reader the output from then on', async () => {
    const { iterator } = source(30);
    const live = new LiveProcesses();
    const first = live.pump('s', 7, iterator, [{ type: 'stdout', data: Buffer.from('early') }]);
    const later = live.subscribe('s', 7);
    expect(later).not.toBeNull();
    const read = async (s: AsyncIterable<{ type: string }>) => {
      const types: string[] = [];
      for await (const out of s) types.push(out.type);
      return types;
    };
    const [a, b] = await Promise.all([read(first), read(later!)]);
    expect(a[0]).toBe('stdout');
    expect(a.at(-1)).toBe('end');
    expect(b.at(-1)).toBe('end');
    expect(b.length).toBeLessThanOrEqual(a.length);
  });
});
