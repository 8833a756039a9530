import { Controller, Get, Header, Res } from '@nestjs/common';
import {
  ApiOkResponse,
  ApiOperation,
  ApiServiceUnavailableResponse,
  ApiTags,
} from '@nestjs/swagger';
import type { Response } from 'express';
import { Readiness, SandboxHealth, SandboxMetrics } from '@app/sandbox';
import { Access } from './auth/access.decorator';

@ApiTags('operations')
@Controller()
export class HealthController {
  constructor(
    private readonly health: SandboxHealth,
    private readonly metrics: SandboxMetrics,
  ) {}

  @Get('health')
  @Access('open')
  @ApiOperation({ summary: 'Readiness of the database, the cache and the Docker engine' })
  @ApiOkResponse({ description: 'All dependencies answer' })
  @ApiServiceUnavailableResponse({
    description:
      'At least one dependency does not answer (unavailable), or the latest creates all failed to start in the engine (degraded, check containerStarts)',
  })
  async readiness(
    @Res({ passthrough: true }) response: Response,
  ): Promise<Readiness & { status: string }> {
    const readiness = await this.health.readiness();
    response.status(readiness.ready ? 200 : 503);
    // Degraded: every dependency answers, yet the engine fails every container start.
    const { containerStarts, ...dependencies } = readiness.checks;
    const reachable = Object.values(dependencies).every((check) => check.ok);
    const status = readiness.ready
      ? 'ok'
      : reachable && !containerStarts.ok
        ? 'degraded'
        : 'unavailable';
    return { status, ...readiness };
  }

  @Get('health/live')
  @Access('open')
  @ApiOperation({ summary: 'Liveness: the process answers' })
  live(): { status: string } {
    return { status: 'ok' };
  }

  @Get('metrics')
  @Access('metrics')
  @Header('Content-Type', 'text/plain; version=0.0.4; charset=utf-8')
  @ApiOperation({ summary: 'Prometheus metrics (the admin key, unless METRICS_PUBLIC=true)' })
  async scrape(): Promise<string> {
    return this.metrics.render();
  }
}
