import { DynamicModule, Module, ModuleMetadata, Provider } from '@nestjs/common';
import { SandboxModule } from '@app/sandbox';
import { AnonymousE2bCaller, E2bCaller } from './e2b-caller';
import { E2bControlPlane } from './control-plane';
import { E2bServer } from './e2b-server';

export interface E2bModuleOptions {
  /**
   * Who is calling the control plane: a provider of E2bCaller (e.g. `{ provide: E2bCaller,
   * useExisting: ApiKeyE2bCaller }`). The default lets everyone in as the anonymous caller (auth
   * off).
   */
  caller?: Provider;
  /** Modules the caller's provider needs. */
  imports?: ModuleMetadata['imports'];
}

/** E2B's API and envd as a translation onto the sandbox library; no state of its own. */
@Module({})
export class E2bModule {
  static register(options: E2bModuleOptions = {}): DynamicModule {
    return {
      module: E2bModule,
      exports: [E2bServer],
      imports: [SandboxModule, ...(options.imports ?? [])],
      providers: [
        E2bControlPlane,
        E2bServer,
        options.caller ?? { provide: E2bCaller, useClass: AnonymousE2bCaller },
      ],
    };
  }
}
