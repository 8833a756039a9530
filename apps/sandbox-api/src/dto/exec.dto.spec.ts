import { MAX_ARG_BYTES, MAX_ARGV_ENTRIES, commandProblem } from './exec.dto';

describe('commandProblem', () => {
  it('accepts argv and scripts within the limits', () => {
    expect(commandProblem(['echo', 'hi'])).toBeNull();
    expect(commandProblem('echo hi')).toBeNull();
    expect(commandProblem(Array<string>(MAX_ARGV_ENTRIES).fill('x'))).toBeNull();
    expect(commandProblem(['echo', 'y'.repeat(MAX_ARG_BYTES)])).toBeNull();
  });

  it('names the limit an argv breaks', () => {
    expect(commandProblem(Array<string>(MAX_ARGV_ENTRIES + 1).fill('x'))).toBe(
      `command has ${MAX_ARGV_ENTRIES + 1} arguments; at most ${MAX_ARGV_ENTRIES} are allowed`,
    );
    // Bytes, not characters: "é" is two.
    expect(commandProblem(['echo', 'é'.repeat(70_000)])).toContain(
      `command[1] is 140000 bytes; one argument may have at most ${MAX_ARG_BYTES}`,
    );
    expect(commandProblem('y'.repeat(MAX_ARG_BYTES + 1))).toContain('command is 131072 bytes');
  });

  it.each<[unknown, string]>([
    [[''], 'command[0] (the program to run) must not be empty'],
    [[], 'non-empty array'],
    ['  ', 'must not be empty or blank'],
    [['a', 'b\0'], 'command[1] must not contain NUL'],
    [['a', 1], 'command[1] must be a string'],
    [{ argv: ['a'] }, 'non-empty array'],
  ])('refuses %j', (value, message) => {
    expect(commandProblem(value)).toContain(message);
  });
});
