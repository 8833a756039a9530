import 'reflect-metadata';
import { isCodedError } from '@app/domain';
import { decodeCursor, encodeCursor } from './cursor';

describe('list cursor', () => {
  it('round-trips an id', () => {
    expect(decodeCursor(encodeCursor('sbx-01JABCDEF_xyz'))).toBe('sbx-01JABCDEF_xyz');
  });

  it('is url-safe and does not show the id in clear', () => {
    const cursor = encodeCursor('sbx-0001');
    expect(cursor).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(cursor).not.toContain('sbx');
  });

  it.each([
    ['not base64url', '!!!'],
    ['a non-canonical encoding', `${encodeCursor('sbx-0001')}=`],
    ['an id with forbidden characters', Buffer.from("x' OR 1=1").toString('base64url')],
    ['an empty string', ''],
    ['an over-long id', encodeCursor('a'.repeat(65))],
  ])('rejects %s with VALIDATION_FAILED on field cursor', (_label, cursor) => {
    let caught: unknown;
    try {
      decodeCursor(cursor);
    } catch (error) {
      caught = error;
    }
    expect(isCodedError(caught, 'VALIDATION_FAILED')).toBe(true);
    expect(caught).toMatchObject({ details: { fields: { cursor: expect.any(Array) } } });
  });
});
