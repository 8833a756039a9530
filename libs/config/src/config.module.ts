import { Global, Module } from '@nestjs/common';
import { ConfigModule } from '@nestjs/config';
import { AppConfig, loadConfig, validateEnv } from './app-config';

/**
 * Validates the environment once at boot (through @nestjs/config, so a bad value stops the process
 * with a message naming it) and exposes the typed AppConfig. Tests override AppConfig with
 * `loadConfig({ ...overrides })`.
 */
@Global()
@Module({
  exports: [AppConfig],
  imports: [ConfigModule.forRoot({ ignoreEnvFile: true, validate: validateEnv })],
  providers: [{ provide: AppConfig, useFactory: (): AppConfig => loadConfig(process.env) }],
})
export class AppConfigModule {}
