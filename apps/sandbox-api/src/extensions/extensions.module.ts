import { Module } from '@nestjs/common';
import { SandboxModule } from '@app/sandbox';
import { ExtensionHost } from './extension-host';
import { EXTENSION_REGISTRY } from './extension-registry';

/**
 * Every registered extension's module (so the build holds them all); ExtensionHost wires in the
 * ones EXTENSIONS enables. A module of an extension that is not enabled stays inert: nothing
 * feeds its subscribers or asks its policies (webhooks' routes then answer 404).
 */
@Module({
  imports: [SandboxModule, ...EXTENSION_REGISTRY.map((extension) => extension.module)],
  providers: [ExtensionHost],
})
export class ExtensionsModule {}
