import type { Rule } from '@angular-devkit/schematics';
import { ExtensionOptions, generateExtension } from '../shared/generate';

/** `nest g -c @sandboxd/schematics policy <name>`: an admission policy only (allow-all to start). */
export function policy(options: ExtensionOptions): Rule {
  return generateExtension(options, { subscriber: false, policy: true });
}
