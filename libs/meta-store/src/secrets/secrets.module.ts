import { Module } from '@nestjs/common';
import { AppConfig } from '@app/config';
import { resolveSecretsKeyring } from './resolve-keyring';
import { SecretsKeyring } from './secrets-keyring';

/**
 * The keyring, resolved once per process: the data source (whose migration seals old values), the
 * store (which seals on write) and the sandbox library (which opens where env is needed) share it.
 */
@Module({
  providers: [{ provide: SecretsKeyring, inject: [AppConfig], useFactory: resolveSecretsKeyring }],
  exports: [SecretsKeyring],
})
export class SecretsModule {}
