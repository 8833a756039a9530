import type { Rule } from '@angular-devkit/schematics';
import { ExtensionOptions, generateExtension } from '../shared/generate';

/** `nest g -c @sandboxd/schematics extension <name>`: a subscriber that logs, an allow-all policy. */
export function extension(options: ExtensionOptions): Rule {
  return generateExtension(options, { subscriber: true, policy: true });
}
