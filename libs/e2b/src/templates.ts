export class TemplateNotFound extends Error {}

/** A Docker image reference as a template id may name one (no flags, no blanks). */
const IMAGE_REF = /^[a-z0-9][a-z0-9._/-]*(:[A-Za-z0-9_.-]+)?(@sha256:[a-f0-9]{64})?$/;

/**
 * The image of an E2B template: the mapped one (E2B_TEMPLATES), else the id itself when it names
 * an image that is already local (`isLocal`: the engine's answer; an engine that cannot answer
 * throws, and that is not "not found"); anything else fails fast instead of pulling.
 */
export async function resolveTemplate(
  id: string,
  templates: ReadonlyMap<string, string>,
  isLocal: (image: string) => Promise<boolean>,
): Promise<string> {
  const mapped = templates.get(id);
  if (mapped !== undefined) return mapped;
  if (IMAGE_REF.test(id) && (await isLocal(id))) return id;
  const known = [...templates.keys()].join(', ');
  throw new TemplateNotFound(
    `template '${id}' not found: map it in E2B_TEMPLATES (known: ${known}) or name a local image`,
  );
}
