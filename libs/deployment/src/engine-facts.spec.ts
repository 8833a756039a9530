import { runtimeDisablesNetwork } from './engine-facts';

describe('runtimeDisablesNetwork', () => {
  it.each([
    [['--platform=ptrace', '--network=none'], true],
    [['-network=none'], true],
    [['--network', 'none'], true],
    [['--platform=ptrace', '--network=host'], false],
    [['--network=sandbox'], false],
    [['--network'], false],
    [['--debug-log=/tmp/none', '--network=host'], false],
    [[], false],
  ])('%j → %s', (args, off) => {
    expect(runtimeDisablesNetwork(args)).toBe(off);
  });
});
