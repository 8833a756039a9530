import { Module } from '@nestjs/common';
import { AuthModule } from '@app/auth';
import { E2bCaller, E2bModule } from '@app/e2b';
import { ApiKeyE2bCaller } from './api-key-e2b-caller';
import { E2bListener } from './e2b-listener';

/**
 * The E2B listener, on its own port (E2B_PORT): no controller on the API's port. Its control
 * plane authenticates with the API's keys (ApiKeyE2bCaller).
 */
@Module({
  imports: [
    E2bModule.register({
      caller: { provide: E2bCaller, useClass: ApiKeyE2bCaller },
      imports: [AuthModule],
    }),
  ],
  providers: [E2bListener],
})
export class E2bApiModule {}
