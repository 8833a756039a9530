import { isSandboxIdShaped, newSandboxId } from './sandbox-id';

describe('sandbox ids', () => {
  it('are id-shaped, and sort by creation time', () => {
    const earlier = newSandboxId(1_000);
    const later = newSandboxId(2_000);
    expect(isSandboxIdShaped(earlier)).toBe(true);
    expect(isSandboxIdShaped(later)).toBe(true);
    expect(earlier < later).toBe(true);
  });

  it('tell an id from a name, which is never id-shaped', () => {
    expect(isSandboxIdShaped('my-sandbox')).toBe(false);
    expect(isSandboxIdShaped('A'.repeat(25))).toBe(false);
    expect(isSandboxIdShaped('a'.repeat(24))).toBe(false);
    expect(isSandboxIdShaped('a'.repeat(26))).toBe(false);
  });
});
