import 'reflect-metadata';
import { createValidationPipe } from '../http/validation.pipe';
import { EmptyBody } from './command.query';
import { CreateSandboxDto } from './create-sandbox.dto';

const pipe = createValidationPipe();

/** The fields the strict pipe names for a body, or [] when it passes. */
async function refusedFields(metatype: new () => object, body: unknown): Promise<string[]> {
  try {
    await pipe.transform(body, { type: 'body', metatype });
    return [];
  } catch (error) {
    const details = (error as { details?: { fields?: Record<string, string[]> } }).details;
    return Object.keys(details?.fields ?? {});
  }
}

const create = (extra: Record<string, unknown>) =>
  refusedFields(CreateSandboxDto, { image: 'sandboxd/demo:latest', ...extra });

describe(CreateSandboxDto.name, () => {
  it.each([
    ['pidsLimit 0, which Docker reads as no limit', { pidsLimit: 0 }, 'pidsLimit'],
    ['memory with blanks around it', { memory: ' 512m ' }, 'memory'],
    ['memory with a newline after it', { memory: '512m\n' }, 'memory'],
    ['disk with a tab before it', { disk: '\t10g' }, 'disk'],
    ['an env value with NUL', { env: { A: 'a\u0000b' } }, 'env'],
    ['an env value with a lone surrogate', { env: { A: '\ud800' } }, 'env'],
    ['command [""]', { command: [''] }, 'command'],
    ['command whose program is blank', { command: [' ', 'x'] }, 'command'],
    ['command with NUL in an argument', { command: ['echo', 'a\u0000b'] }, 'command'],
    ['entrypoint [""]', { entrypoint: [''] }, 'entrypoint'],
    ['entrypoint [""] with a command', { entrypoint: [''], command: ['x'] }, 'entrypoint'],
    ['a label value with a newline', { labels: { a: 'x\ny' } }, 'labels'],
    ['a label value with DEL', { labels: { a: 'x\u007f' } }, 'labels'],
    ['a label value with NUL', { labels: { a: 'x\u0000' } }, 'labels'],
    ['a label value over 512 characters', { labels: { a: 'v'.repeat(513) } }, 'labels'],
    // The service takes an id-shaped string for an id without looking it up (isSandboxIdShaped).
    ['a name shaped like a sandbox id', { name: '0mf2x9k1a3c4d5e6f7a8b9c0d' }, 'name'],
    ['a network that is not bridge or none', { network: 'host' }, 'network'],
    ['a network of another case', { network: 'Bridge' }, 'network'],
    ['a network that is no string', { network: 1 }, 'network'],
  ])('should refuse %s', async (_case, extra, field) => {
    expect(await create(extra)).toEqual([field]);
  });

  it.each([
    ['pidsLimit -1 (no limit)', { pidsLimit: -1 }],
    ['pidsLimit 1', { pidsLimit: 1 }],
    ['memory 512m', { memory: '512m' }],
    ['an env value with a newline (a PEM key)', { env: { KEY: 'a\nb' } }],
    ['an env value with a paired surrogate (emoji)', { env: { A: '\ud83d\ude00' } }],
    ['command arguments that are empty', { command: ['printf', ''] }],
    ['command [""] run by an entrypoint', { entrypoint: ['/bin/sh', '-c'], command: [''] }],
    ['a label value of 512 characters', { labels: { a: 'v'.repeat(512) } }],
    ['a label value with spaces, = and unicode', { labels: { a: ' x = é 😀 ' } }],
    ['network bridge', { network: 'bridge' }],
    ['network none', { network: 'none' }],
  ])('should accept %s', async (_case, extra) => {
    expect(await create(extra)).toEqual([]);
  });
});

describe(EmptyBody.name, () => {
  it('should accept no body and an empty object', async () => {
    expect(await refusedFields(EmptyBody, undefined)).toEqual([]);
    expect(await refusedFields(EmptyBody, {})).toEqual([]);
  });

  it('should refuse every field as unknown', async () => {
    expect(await refusedFields(EmptyBody, { force: true, reason: 'x' })).toEqual([
      'force',
      'reason',
    ]);
  });
});
