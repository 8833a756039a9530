import { Module } from '@nestjs/common';
import { SandboxModule } from '@app/sandbox';
import { BashSessions } from './bash-sessions';
import { RockSandboxes } from './rock-sandboxes';

/** ROCK's sandbox API as a translation onto the sandbox library; no state of its own. */
@Module({
  exports: [RockSandboxes],
  imports: [SandboxModule],
  providers: [BashSessions, RockSandboxes],
})
export class RockModule {}
