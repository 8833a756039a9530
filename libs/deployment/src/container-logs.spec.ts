import { demuxLogs, lastLines } from './container-logs';

function frame(stream: 1 | 2, text: string): Buffer {
  const payload = Buffer.from(text, 'utf8');
  const header = Buffer.alloc(8);
  header[0] = stream;
  header.writeUInt32BE(payload.length, 4);
  return Buffer.concat([header, payload]);
}

describe('container logs', () => {
  it('joins multiplexed stdout and stderr frames in order', () => {
    const buffer = Buffer.concat([frame(1, 'one\n'), frame(2, 'two\n'), frame(1, 'three')]);
    expect(demuxLogs(buffer)).toBe('one\ntwo\nthree');
  });

  it('returns raw TTY output unchanged', () => {
    expect(demuxLogs(Buffer.from('plain text\n'))).toBe('plain text\n');
  });

  it('survives a truncated last frame', () => {
    const buffer = frame(1, 'complete\n');
    expect(demuxLogs(buffer.subarray(0, buffer.length - 3))).toBe('comple');
  });

  it('keeps the last non-empty lines, cutting long ones', () => {
    expect(lastLines('a\n\nb\r\nc\n', 2)).toEqual(['b', 'c']);
    expect(lastLines('x'.repeat(10), 1, 4)).toEqual(['xxxx…']);
  });
});
