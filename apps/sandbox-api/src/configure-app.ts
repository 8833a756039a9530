import type { NestExpressApplication } from '@nestjs/platform-express';
import { DocumentBuilder, OpenAPIObject, SwaggerModule } from '@nestjs/swagger';
import { applyExpressSettings } from './http/express-settings';
import { jsonBody } from './http/json-body';
import { installJsonReply } from './http/json-reply';

/**
 * Everything main.ts applies to the app besides listening, shared with the e2e tests so they run
 * the production pipeline: Express settings, the JSON reply, body limit, Swagger UI at /docs (JSON at /docs-json),
 * shutdown hooks.
 */
export function configureApp(app: NestExpressApplication): void {
  applyExpressSettings(app);
  installJsonReply(app.getHttpAdapter());
  app.use(jsonBody());
  app.enableShutdownHooks();
  SwaggerModule.setup('docs', app, buildOpenApiDocument(app), { jsonDocumentUrl: 'docs-json' });
}

/** The OpenAPI document of the API; the SDK's types are generated from it. */
export function buildOpenApiDocument(app: NestExpressApplication): OpenAPIObject {
  return SwaggerModule.createDocument(
    app,
    new DocumentBuilder()
      .setTitle('sandboxd')
      .setDescription(
        'Docker sandboxes for agents, CI jobs and RL rollouts: create, inspect, list, stop, restart, delete.',
      )
      .setVersion('0.1.0')
      .build(),
  );
}
