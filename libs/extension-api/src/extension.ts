import type { Type } from '@nestjs/common';
import type { AdmissionPolicy } from './admission-policy';
import type { EventSubscriber } from './event-subscriber';

/**
 * An extension: a Nest module and the providers of it that sandboxd wires in when EXTENSIONS
 * names it. The module must provide (list in `providers`) each class named here.
 */
export interface SandboxdExtension {
  /** What EXTENSIONS calls it: lower-case letters, digits and dashes. */
  readonly name: string;
  readonly module: Type<unknown>;
  readonly subscribers?: readonly Type<EventSubscriber>[];
  readonly policies?: readonly Type<AdmissionPolicy>[];
}

const NAME = /^[a-z][a-z0-9-]{0,63}$/;

/** Checks the name's shape once, where the extension is declared. */
export function defineExtension(extension: SandboxdExtension): SandboxdExtension {
  if (!NAME.test(extension.name)) {
    throw new Error(
      `extension name "${extension.name}" must be lower-case letters, digits and dashes`,
    );
  }
  return extension;
}
