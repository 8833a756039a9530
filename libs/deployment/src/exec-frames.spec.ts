import { ExecFrameDecoder, type StreamPart } from './exec-frames';

function frame(stream: 1 | 2, text: string): Buffer {
  const payload = Buffer.from(text);
  const header = Buffer.alloc(8);
  header[0] = stream;
  header.writeUInt32BE(payload.length, 4);
  return Buffer.concat([header, payload]);
}

/** Joins consecutive parts of one kind, as the byte boundaries are not meaningful. */
function joined(parts: StreamPart[]): [string, string][] {
  const out: [string, string][] = [];
  for (const part of parts) {
    const last = out.at(-1);
    if (last && last[0] === part.kind) last[1] += part.data.toString();
    else out.push([part.kind, part.data.toString()]);
  }
  return out;
}

describe('ExecFrameDecoder', () => {
  it('decodes several frames in one chunk', () => {
    const decoder = new ExecFrameDecoder();
    const parts = decoder.push(Buffer.concat([frame(1, 'out'), frame(2, 'err'), frame(1, '!')]));
    expect(joined(parts)).toEqual([
      ['stdout', 'out'],
      ['stderr', 'err'],
      ['stdout', '!'],
    ]);
  });

  it('survives any split, including inside headers, and hands payload on before the frame ends', () => {
    const bytes = Buffer.concat([frame(1, 'hello world'), frame(2, 'oops'), frame(1, '')]);
    for (let size = 1; size <= bytes.length; size += 1) {
      const decoder = new ExecFrameDecoder();
      const parts: StreamPart[] = [];
      for (let i = 0; i < bytes.length; i += size)
        parts.push(...decoder.push(bytes.subarray(i, i + size)));
      expect(joined(parts)).toEqual([
        ['stdout', 'hello world'],
        ['stderr', 'oops'],
      ]);
    }
    const live = new ExecFrameDecoder();
    expect(joined(live.push(frame(1, 'hello world').subarray(0, 10)))).toEqual([['stdout', 'he']]);
  });

  it('reports a stream that is not multiplexed as raw, whole', () => {
    const decoder = new ExecFrameDecoder();
    expect(joined(decoder.push(Buffer.from('OCI runtime exec failed')))).toEqual([
      ['raw', 'OCI runtime exec failed'],
    ]);
    expect(joined(decoder.push(Buffer.from(': more')))).toEqual([['raw', ': more']]);
    const split = new ExecFrameDecoder();
    expect(split.push(Buffer.from([1, 0]))).toEqual([]);
    expect(joined(split.push(Buffer.from([7, 0, 0, 0, 0, 1, 65])))).toEqual([
      ['raw', '\u0001\u0000\u0007\u0000\u0000\u0000\u0000\u0001A'],
    ]);
  });
});
