import type { SandboxdExtension } from '@app/extension-api';
import { imagePolicyExtension } from '@app/extensions/image-policy';
import { webhooksExtension } from '@app/extensions/webhooks';
// sandboxd:extension-imports: `nest g -c @sandboxd/schematics extension <name>` adds its import above.

/**
 * Every extension this build knows, by the name EXTENSIONS uses. Only those EXTENSIONS names are
 * wired in (their subscribers fed, their policies asked); an unknown name stops the start.
 */
export const EXTENSION_REGISTRY: readonly SandboxdExtension[] = [
  webhooksExtension,
  imagePolicyExtension,
  // sandboxd:extensions: the schematics add each new extension above this line.
];
