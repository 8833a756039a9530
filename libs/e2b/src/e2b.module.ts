import { DynamicModule, Module, ModuleMetadata, Provider } from '@nestjs/common';
import { SandboxModule } from '@app/sandbox';
import { E2bControlPlane } from './control-plane';
import { E2bServer } from './e2b-server';

export interface E2bModuleOptions {
  /**
   * Who is calling the control plane: a provider of E2bCaller (e.g. `{ provide: E2bCaller,
   * useClass: ApiKeyE2bCaller }`, which is also what answers with auth off). Required: the
   * listener has no way in without one.
   */
  caller: Provider;
  /** Modules the caller's provider needs. */
  imports?: ModuleMetadata['imports'];
}

/** E2B's API and envd as a translation onto the sandbox library; no state of its own. */
@Module({})
export class E2bModule {
  static register(options: E2bModuleOptions): DynamicModule {
    return {
      module: E2bModule,
      exports: [E2bServer],
      imports: [SandboxModule, ...(options.imports ?? [])],
      providers: [E2bControlPlane, E2bServer, options.caller],
    };
  }
}
