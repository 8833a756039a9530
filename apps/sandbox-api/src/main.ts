import 'reflect-metadata';
import { Logger, LogLevel } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { ServerConfig } from '@app/config';
import { AppModule } from './app.module';
import { configureApp } from './configure-app';
import { installProcessFailureHandlers } from './process-failures';

const LEVELS: LogLevel[] = ['fatal', 'error', 'warn', 'log', 'debug', 'verbose'];

async function bootstrap(): Promise<void> {
  const app = await NestFactory.create<NestExpressApplication>(AppModule, { bodyParser: false });
  const config = app.get(ServerConfig);
  app.useLogger(LEVELS.slice(0, LEVELS.indexOf(config.logLevel) + 1));
  configureApp(app);
  await app.listen(config.port, config.host);
  const shown = config.host.includes(':') ? `[${config.host}]` : config.host;
  Logger.log(
    `sandboxd listening on http://${shown}:${config.port} (Swagger UI: /docs)`,
    'Bootstrap',
  );
}

installProcessFailureHandlers();
void bootstrap();
