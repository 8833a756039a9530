import { TemplateNotFound, resolveTemplate } from './templates';

describe('resolveTemplate', () => {
  const templates = new Map([['base', 'sandboxd/demo:latest']]);
  const local = (names: string[]) => (image: string) => Promise.resolve(names.includes(image));

  it('should map a listed template id to its image', async () => {
    await expect(resolveTemplate('base', templates, local([]))).resolves.toBe(
      'sandboxd/demo:latest',
    );
  });

  it('should use an unlisted id that names a local image as that image', async () => {
    await expect(resolveTemplate('alpine:3.20', templates, local(['alpine:3.20']))).resolves.toBe(
      'alpine:3.20',
    );
  });

  it('should fail fast for anything else, naming the known templates', async () => {
    await expect(resolveTemplate('python', templates, local([]))).rejects.toThrow(TemplateNotFound);
    await expect(resolveTemplate('--rm', templates, local(['--rm']))).rejects.toThrow(
      /known: base/,
    );
  });
});

describe('resolveTemplate when the engine cannot answer', () => {
  it('should pass the engine failure on, never reading it as "not found"', async () => {
    const outage = Object.assign(new Error('engine down'), { code: 'RUNTIME_UNAVAILABLE' });
    const failing = () => Promise.reject(outage);
    await expect(resolveTemplate('alpine:3.20', new Map(), failing)).rejects.toBe(outage);
  });
});
