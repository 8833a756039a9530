import { SchematicsException } from '@angular-devkit/schematics';

/** The forms of an extension's name the generated code uses. */
export interface Names {
  /** As EXTENSIONS lists it and as its folder is named: `audit-log`. */
  kebab: string;
  /** Class prefix: `AuditLog`. */
  pascal: string;
  /** Variable prefix: `auditLog`. */
  camel: string;
}

/** What EXTENSIONS accepts (defineExtension checks the same at start-up). */
export const EXTENSION_NAME = /^[a-z][a-z0-9]*(-[a-z0-9]+)*$/;

/** Names the registry or the build already use for something else. */
const RESERVED = new Set(['webhooks', 'image-policy', 'extension-api', 'schematics']);

export function namesOf(raw: string | undefined): Names {
  const kebab = (raw ?? '').trim();
  // At most 24 characters, so every generated line (the registry's import too) stays within 100.
  if (!EXTENSION_NAME.test(kebab) || kebab.length > 24) {
    throw new SchematicsException(
      `"${kebab}" is not an extension name: use at most 24 lower-case letters, digits and single dashes (e.g. audit-log)`,
    );
  }
  if (RESERVED.has(kebab)) {
    throw new SchematicsException(`"${kebab}" is taken by a built-in; choose another name`);
  }
  const pascal = kebab
    .split('-')
    .map((part) => part[0].toUpperCase() + part.slice(1))
    .join('');
  return { kebab, pascal, camel: pascal[0].toLowerCase() + pascal.slice(1) };
}
