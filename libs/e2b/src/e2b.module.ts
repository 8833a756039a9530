import { Module } from '@nestjs/common';
import { SandboxModule } from '@app/sandbox';
import { E2bControlPlane } from './control-plane';
import { E2bServer } from './e2b-server';

/** E2B's API and envd as a translation onto the sandbox library; no state of its own. */
@Module({
  exports: [E2bServer, E2bControlPlane],
  imports: [SandboxModule],
  providers: [E2bControlPlane, E2bServer],
})
export class E2bModule {}
