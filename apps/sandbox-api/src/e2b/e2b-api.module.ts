import { Module } from '@nestjs/common';
import { E2bModule } from '@app/e2b';
import { E2bListener } from './e2b-listener';

/** The E2B listener, on its own port (E2B_PORT): no controller on the API's port. */
@Module({ imports: [E2bModule.register()], providers: [E2bListener] })
export class E2bApiModule {}
