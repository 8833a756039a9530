/**
 * An ALLOWED_IMAGES pattern as a regular expression over the whole image reference: `**` any run
 * of characters, `*` any run without `/` (one path segment, or a tag), `?` one character; all else
 * literal. `sandboxd/*` allows every image of the sandboxd namespace, `python:3.*` every 3.x tag.
 */
export function globToRegExp(pattern: string): RegExp {
  let source = '';
  for (let i = 0; i < pattern.length; i++) {
    const char = pattern[i];
    if (char === '*' && pattern[i + 1] === '*') {
      source += '.*';
      i++;
    } else if (char === '*') {
      source += '[^/]*';
    } else if (char === '?') {
      source += '.';
    } else {
      source += char.replace(/[.+^${}()|[\]\\]/g, '\\$&');
    }
  }
  return new RegExp(`^${source}$`);
}

/**
 * The spellings of one image that a pattern may be written against: with and without Docker
 * Hub's implicit `docker.io/`, `library/` and `:latest`, so `alpine`, `alpine:latest` and
 * `docker.io/library/alpine:latest` are the same image to every pattern.
 */
export function imageForms(image: string): string[] {
  const slash = image.indexOf('/');
  const first = slash === -1 ? '' : image.slice(0, slash);
  const hasRegistry = slash !== -1 && (/[.:]/.test(first) || first === 'localhost');
  const registry = hasRegistry ? first : 'docker.io';
  let path = hasRegistry ? image.slice(slash + 1) : image;
  const last = path.slice(path.lastIndexOf('/') + 1);
  if (!last.includes(':') && !last.includes('@')) path = `${path}:latest`;
  const forms = new Set<string>([image, `${registry}/${path}`]);
  if (registry === 'docker.io') {
    const short = path.startsWith('library/') ? path.slice('library/'.length) : path;
    for (const name of new Set([path, short])) {
      forms.add(name);
      forms.add(`docker.io/${name}`);
      if (name.endsWith(':latest')) forms.add(name.slice(0, -':latest'.length));
    }
  } else if (path.endsWith(':latest')) {
    forms.add(`${registry}/${path.slice(0, -':latest'.length)}`);
  }
  return [...forms];
}
