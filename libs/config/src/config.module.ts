import { Global, Module } from '@nestjs/common';
import { CONFIG_SLICES, LOADED_CONFIG, loadConfig, sliceProviders } from './load-config';

/**
 * Validates the environment once, when the application is built (a bad value stops the process
 * with a message naming every bad variable), and provides each slice (ServerConfig, DockerConfig…)
 * on its own, so a class injects only what it reads. The whole ConfigSlices is not exported. Tests
 * override LOADED_CONFIG with `loadConfig({ ...overrides })`, or one slice with their own value.
 */
@Global()
@Module({
  providers: [
    { provide: LOADED_CONFIG, useFactory: () => loadConfig(process.env) },
    ...sliceProviders(),
  ],
  exports: Object.values(CONFIG_SLICES).map((slice) => slice.token),
})
export class AppConfigModule {}
