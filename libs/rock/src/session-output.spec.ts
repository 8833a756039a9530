import { splitAnswer, transcriptOf } from './session-output';

describe('session output', () => {
  it('should give the pty transcript: CRLF between lines, stripped, without ANSI escapes', () => {
    expect(transcriptOf(Buffer.from('a\nb\n'), 'x')).toBe('a\r\nb');
    expect(transcriptOf(Buffer.from('\u001b[31mred\u001b[0m\n'), 'x')).toBe('red');
    expect(transcriptOf(Buffer.from('hello\n'), 'x')).toBe('hello');
  });

  it("should name bash instead of the command's file in a syntax error", () => {
    const raw = Buffer.from(
      "/tmp/.sandboxd-rock/1/s/c.ab12: line 1: syntax error near unexpected token `then'\n",
    );
    expect(transcriptOf(raw, 'ab12')).toBe(
      "bash: line 1: syntax error near unexpected token `then'",
    );
  });

  it('should split the status line from the output', () => {
    expect(splitAnswer(Buffer.from('ok 0\nhello\n'))).toEqual({
      status: 'ok',
      exitCode: 0,
      output: Buffer.from('hello\n'),
    });
    expect(splitAnswer(Buffer.from('nosession\n'))).toMatchObject({
      status: 'nosession',
      exitCode: null,
    });
    expect(splitAnswer(Buffer.from(''))).toMatchObject({ status: '', exitCode: null });
  });
});
