import { StartFailureProbe } from './start-failure';

const text = (chunks: Buffer[]): string => Buffer.concat(chunks).toString();

describe('StartFailureProbe', () => {
  it('passes ordinary output on at once', () => {
    const probe = new StartFailureProbe();
    expect(text(probe.offer(Buffer.from('line1\n')))).toBe('line1\n');
    expect(text(probe.offer(Buffer.from('OCI runtime exec failed')))).toBe(
      'OCI runtime exec failed',
    );
    expect(probe.engineText()).toBeNull();
  });

  it('holds what may be the engine message, and recognises it at the end', () => {
    const probe = new StartFailureProbe();
    expect(probe.offer(Buffer.from('OCI run'))).toEqual([]);
    expect(probe.offer(Buffer.from('time exec failed: exec: "x": not found\r\n'))).toEqual([]);
    expect(probe.engineText()).toMatch(/^OCI runtime exec failed: exec: "x"/);
    const user = new StartFailureProbe();
    user.offer(Buffer.from('unable to find user nosuch: no matching entries'));
    expect(user.engineText()).toMatch(/^unable to find user/);
  });

  it('releases held bytes once they stop looking like the engine, or on demand', () => {
    const probe = new StartFailureProbe();
    expect(probe.offer(Buffer.from('unab'))).toEqual([]);
    expect(text(probe.offer(Buffer.from('le to parse')))).toBe('unable to parse');
    const released = new StartFailureProbe();
    released.offer(Buffer.from('OCI'));
    expect(text(released.release())).toBe('OCI');
    expect(released.engineText()).toBeNull();
    // A prefix alone is not the message.
    const short = new StartFailureProbe();
    short.offer(Buffer.from('OCI'));
    expect(short.engineText()).toBeNull();
  });
});
