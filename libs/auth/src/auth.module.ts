import { Logger, Module, OnApplicationBootstrap } from '@nestjs/common';
import { AuthConfig, ServerConfig } from '@app/config';
import { MetaStoreModule } from '@app/meta-store';
import { ApiKeyAuthenticator } from './api-key-authenticator';
import { ApiKeyVerifier } from './api-key-verifier';
import { ApiKeys } from './api-keys.service';
import { AuthPolicy, describeAuthMode, resolveAuthPolicy } from './auth-policy';
import { FailedAuthLimiter } from './failed-auth-limiter';

/**
 * Who may call sandboxd: the policy decided at start-up (which refuses to start an open API on a
 * non-loopback HOST), the authenticator every edge shares, and the admin API's keys. The slices
 * come from the global AppConfigModule; the keys live in meta-store's database.
 */
@Module({
  imports: [MetaStoreModule],
  providers: [
    {
      provide: AuthPolicy,
      inject: [AuthConfig, ServerConfig],
      useFactory: (auth: AuthConfig, server: ServerConfig) => resolveAuthPolicy(auth, server.host),
    },
    ApiKeyVerifier,
    FailedAuthLimiter,
    ApiKeyAuthenticator,
    ApiKeys,
  ],
  exports: [AuthPolicy, ApiKeyAuthenticator, ApiKeys],
})
export class AuthModule implements OnApplicationBootstrap {
  constructor(
    private readonly policy: AuthPolicy,
    private readonly server: ServerConfig,
  ) {}

  /** Once per start: says whether keys are required, loudly when they are not. */
  onApplicationBootstrap(): void {
    const line = describeAuthMode(this.policy.mode, this.server.host);
    if (this.policy.enabled) Logger.log(line, 'Auth');
    else Logger.warn(line, 'Auth');
  }
}
