import { environHas } from './host-processes';

describe('environHas', () => {
  const environ = Buffer.from('PATH=/bin\0SANDBOXD_EXEC_ID=abc123\0HOME=/root\0');

  it('matches one whole NAME=value entry', () => {
    expect(environHas(environ, 'SANDBOXD_EXEC_ID=abc123')).toBe(true);
    expect(environHas(environ, 'PATH=/bin')).toBe(true);
    expect(environHas(Buffer.from('SANDBOXD_EXEC_ID=abc123'), 'SANDBOXD_EXEC_ID=abc123')).toBe(
      true,
    );
  });

  it('does not match a prefix, a suffix or a different value', () => {
    expect(environHas(environ, 'SANDBOXD_EXEC_ID=abc')).toBe(false);
    expect(environHas(environ, 'EXEC_ID=abc123')).toBe(false);
    expect(environHas(environ, 'SANDBOXD_EXEC_ID=other')).toBe(false);
    expect(environHas(Buffer.alloc(0), 'SANDBOXD_EXEC_ID=abc123')).toBe(false);
  });
});
