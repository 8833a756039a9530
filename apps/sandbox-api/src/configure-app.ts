import type { NestExpressApplication } from '@nestjs/platform-express';
import { DocumentBuilder, OpenAPIObject, SwaggerModule } from '@nestjs/swagger';
import { Logger } from '@nestjs/common';
import { API_KEY_PREFIX, ApiKeyAuthenticator } from '@app/auth';
import { ClusterConfig } from '@app/config';
import { SandboxRouting } from '@app/sandbox';
import { v1Forwarding } from './cluster/v1-forwarding';
import { ACCESS_EXTENSION } from './auth/access.decorator';
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
  // Cluster mode: calls about another node's sandbox go there before any body is read.
  if (app.get(ClusterConfig).enabled) {
    const logger = new Logger('Cluster');
    app.use(
      v1Forwarding({
        authenticator: app.get(ApiKeyAuthenticator),
        routing: app.get(SandboxRouting),
        log: (message) => logger.warn(message),
      }),
    );
  }
  app.use(jsonBody());
  app.enableShutdownHooks();
  SwaggerModule.setup('docs', app, buildOpenApiDocument(app), { jsonDocumentUrl: 'docs-json' });
}

const KEY_HELP = `A tenant's API key (${API_KEY_PREFIX}…) or the admin key (ADMIN_API_KEY)`;

/**
 * The OpenAPI document of the API; the SDK's types are generated from it. Every operation takes
 * a key as a Bearer token or as X-API-Key (either one: Swagger UI's Authorize button fills them
 * in), except the open ones (`x-sandboxd-access: open`), which say so with an empty `security`.
 */
export function buildOpenApiDocument(app: NestExpressApplication): OpenAPIObject {
  const document = SwaggerModule.createDocument(
    app,
    new DocumentBuilder()
      .setTitle('sandboxd')
      .setDescription(
        'Docker sandboxes for agents, CI jobs and RL rollouts: create, inspect, list, stop, restart, delete.',
      )
      .setVersion('0.1.0')
      .addBearerAuth({ type: 'http', scheme: 'bearer', description: KEY_HELP }, 'bearer')
      .addApiKey(
        { type: 'apiKey', in: 'header', name: 'X-API-Key', description: KEY_HELP },
        'api-key',
      )
      .addSecurityRequirements('bearer')
      .addSecurityRequirements('api-key')
      .build(),
  );
  for (const operations of Object.values(document.paths)) {
    for (const operation of Object.values(operations as Record<string, Record<string, unknown>>)) {
      if (operation[ACCESS_EXTENSION] === 'open') operation.security = [];
    }
  }
  return document;
}
