import { Module } from '@nestjs/common';
import { StoreConfig } from '@app/config';
import { resolveSecretsKeyring } from './resolve-keyring';
import { SecretsKeyring } from './secrets-keyring';

/**
 * The keyring, resolved once per process: the data source (whose migration seals old values), the
 * store (which seals on write) and the sandbox library (which opens where env is needed) share it.
 */
@Module({
  providers: [
    { provide: SecretsKeyring, inject: [StoreConfig], useFactory: resolveSecretsKeyring },
  ],
  exports: [SecretsKeyring],
})
export class SecretsModule {}
