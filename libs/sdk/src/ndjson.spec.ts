import { parseNdjson } from './ndjson';

/** The parts as separate chunks, each delivered on a later tick, as a socket would. */
async function* chunks(...parts: (string | number[])[]): AsyncGenerator<Uint8Array> {
  for (const part of parts) {
    await new Promise((resolve) => setImmediate(resolve));
    yield typeof part === 'string' ? new TextEncoder().encode(part) : Uint8Array.from(part);
  }
}

async function collect(source: AsyncIterable<unknown>): Promise<unknown[]> {
  const out: unknown[] = [];
  for await (const value of source) out.push(value);
  return out;
}

describe('parseNdjson', () => {
  it('should join a line split across chunks and split chunks holding several lines', async () => {
    const values = await collect(
      parseNdjson(
        chunks(
          '{"type":"std',
          'out","data":"a"}\n{"type":"stderr","data":"b"}\n{"ty',
          'pe":"exit"}\n',
        ),
      ),
    );
    expect(values).toEqual([
      { type: 'stdout', data: 'a' },
      { type: 'stderr', data: 'b' },
      { type: 'exit' },
    ]);
  });

  it('should keep a multi-byte character split between chunks intact', async () => {
    // "é" is 0xC3 0xA9 in UTF-8; the chunk boundary falls between its two bytes.
    const head = new TextEncoder().encode('{"data":"caf');
    const values = await collect(
      parseNdjson(chunks([...head, 0xc3], [0xa9, ...new TextEncoder().encode('"}\n')])),
    );
    expect(values).toEqual([{ data: 'café' }]);
  });

  it('should skip blank lines, accept CRLF and a last line without newline', async () => {
    const values = await collect(parseNdjson(chunks('\n{"a":1}\r\n\n', '{"a":2}')));
    expect(values).toEqual([{ a: 1 }, { a: 2 }]);
  });

  it('should fail with INVALID_RESPONSE on a line that is not JSON', async () => {
    await expect(collect(parseNdjson(chunks('{"a":1}\nnope\n')))).rejects.toMatchObject({
      code: 'INVALID_RESPONSE',
    });
  });
});
