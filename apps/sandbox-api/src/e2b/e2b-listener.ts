import { Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { E2bConfig, ServerConfig } from '@app/config';
import { E2bServer } from '@app/e2b';

/**
 * Opens E2B's listener on E2B_PORT (same HOST as the API) when it is set, in this process, next
 * to the API's own port; closes it on shutdown.
 */
@Injectable()
export class E2bListener implements OnApplicationBootstrap, OnApplicationShutdown {
  constructor(
    private readonly config: ServerConfig,
    private readonly e2b: E2bConfig,
    private readonly server: E2bServer,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    if (this.e2b.port === null) return;
    const port = await this.server.listen(this.e2b.port, this.config.host);
    const shown = this.config.host.includes(':') ? `[${this.config.host}]` : this.config.host;
    Logger.log(
      `E2B API listening on http://${shown}:${port} (set E2B_API_URL and E2B_SANDBOX_URL to it)`,
      'Bootstrap',
    );
  }

  async onApplicationShutdown(): Promise<void> {
    await this.server.close();
  }
}
