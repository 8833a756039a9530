import { outputBytes } from './exec';
import { Transport } from './http';
import { Sandbox } from './sandbox';
import { fakeFetch, jsonResponse } from './testing/fake-fetch';

describe('exec output encoding', () => {
  it('asks for base64 output and decodes it to the exact bytes', async () => {
    const bytes = Uint8Array.from([0, 1, 0xc3, 0xff, 10]);
    const { fetch, calls } = fakeFetch(() =>
      jsonResponse(200, {
        exitCode: 0,
        stdout: Buffer.from(bytes).toString('base64'),
        stderr: '',
        outputEncoding: 'base64',
        timedOut: false,
        truncated: false,
        durationMs: 3,
      }),
    );
    const sandbox = new Sandbox(new Transport({ baseUrl: 'http://h', fetch }), 'sb1');
    const result = await sandbox.exec(['cat', '/bin/sh'], { outputEncoding: 'base64' });
    expect(JSON.parse(new TextDecoder().decode(calls[0].body))).toEqual({
      command: ['cat', '/bin/sh'],
      outputEncoding: 'base64',
    });
    expect(outputBytes(result.stdout, result.outputEncoding)).toEqual(bytes);
    expect(outputBytes(result.stderr, result.outputEncoding)).toEqual(new Uint8Array());
  });

  it('gives the UTF-8 bytes of utf8 text', () => {
    expect(outputBytes('hé')).toEqual(Uint8Array.from([0x68, 0xc3, 0xa9]));
  });
});
