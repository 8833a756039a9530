import { LineSplitter, parseEventLine } from './container-events';
import { LABEL_INSTANCE, LABEL_MANAGED, LABEL_SANDBOX_ID } from './labels';

/** An event line as Docker 20.10 (API 1.41) writes it. */
function engineLine(action: string, attributes: Record<string, string> = {}): string {
  return JSON.stringify({
    status: action,
    id: 'c0ffee',
    from: 'sandboxd/demo:latest',
    Type: 'container',
    Action: action,
    Actor: {
      ID: 'c0ffee',
      Attributes: {
        image: 'sandboxd/demo:latest',
        name: 'sandboxd-sb-1',
        [LABEL_MANAGED]: 'true',
        [LABEL_SANDBOX_ID]: 'sb-1',
        [LABEL_INSTANCE]: 'i-1',
        ...attributes,
      },
    },
    scope: 'local',
    time: 1767225600,
    // Real values exceed 2^53; only millisecond precision matters.
    timeNano: 1767225600123457000,
  });
}

describe('parseEventLine', () => {
  it('reads a die event with its exit code, owner labels and time', () => {
    expect(parseEventLine(engineLine('die', { exitCode: '137' }))).toEqual({
      action: 'die',
      containerId: 'c0ffee',
      sandboxId: 'sb-1',
      instanceId: 'i-1',
      exitCode: 137,
      at: new Date('2026-01-01T00:00:00.123Z'),
    });
  });

  it('reads oom and destroy, which carry no exit code', () => {
    expect(parseEventLine(engineLine('oom'))).toMatchObject({ action: 'oom', exitCode: null });
    expect(parseEventLine(engineLine('destroy'))).toMatchObject({
      action: 'destroy',
      exitCode: null,
    });
  });

  it('has null owners for a container without our labels', () => {
    const line = JSON.stringify({ Type: 'container', Action: 'die', Actor: { ID: 'x' } });
    expect(parseEventLine(line)).toMatchObject({
      containerId: 'x',
      sandboxId: null,
      instanceId: null,
      exitCode: null,
    });
  });

  it('understands the pre-1.22 spelling (status and id only, time in seconds)', () => {
    expect(parseEventLine('{"status":"die","id":"old","time":1767225600}')).toMatchObject({
      action: 'die',
      containerId: 'old',
      at: new Date('2026-01-01T00:00:00Z'),
    });
  });

  it.each([
    ['an empty line', ''],
    ['whitespace', '   \r'],
    ['garbage', 'not json at all'],
    ['a truncated object', engineLine('die').slice(0, 40)],
    ['a JSON array', '[1,2]'],
    ['a JSON string', '"die"'],
    ['null', 'null'],
    ['another action', engineLine('start')],
    ['another object type', JSON.stringify({ Type: 'image', Action: 'destroy', id: 'img' })],
    ['an event without a container id', JSON.stringify({ Type: 'container', Action: 'die' })],
  ])('ignores %s', (_name, line) => {
    expect(parseEventLine(line)).toBeNull();
  });

  it('ignores an exit code that is not a number', () => {
    expect(parseEventLine(engineLine('die', { exitCode: 'n/a' }))?.exitCode).toBeNull();
  });
});

describe('LineSplitter', () => {
  it('keeps a line split across chunks until its newline arrives', () => {
    const splitter = new LineSplitter();
    const line = engineLine('die', { exitCode: '1' });
    expect(splitter.push(Buffer.from(line.slice(0, 25)))).toEqual([]);
    expect(splitter.push(Buffer.from(line.slice(25, 60)))).toEqual([]);
    expect(splitter.push(Buffer.from(`${line.slice(60)}\n`))).toEqual([line]);
  });

  it('returns several lines from one chunk and keeps the unfinished tail', () => {
    const splitter = new LineSplitter();
    expect(splitter.push('a\nb\nc')).toEqual(['a', 'b']);
    expect(splitter.push('d\n')).toEqual(['cd']);
  });

  it('does not break a multi-byte character split between chunks', () => {
    const splitter = new LineSplitter();
    const bytes = Buffer.from('{"name":"é"}\n');
    const cut = bytes.indexOf(0xc3) + 1;
    expect(splitter.push(bytes.subarray(0, cut))).toEqual([]);
    expect(splitter.push(bytes.subarray(cut))).toEqual(['{"name":"é"}']);
  });

  it('drops a partial line on reset', () => {
    const splitter = new LineSplitter();
    splitter.push('half a li');
    splitter.reset();
    expect(splitter.push('ne\n')).toEqual(['ne']);
  });

  it('delivers the events around garbage lines in a byte-by-byte stream', () => {
    const splitter = new LineSplitter();
    const input = `${engineLine('die', { exitCode: '2' })}\n}{garbage\n\n${engineLine('destroy')}\n`;
    const events = [...Buffer.from(input)]
      .flatMap((byte) => splitter.push(Buffer.from([byte])))
      .map(parseEventLine)
      .filter((event) => event !== null);
    expect(events.map((event) => [event.action, event.exitCode])).toEqual([
      ['die', 2],
      ['destroy', null],
    ]);
  });
});
