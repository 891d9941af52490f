import type { INestApplication } from '@nestjs/common';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import type { OpenAPIObject } from '@nestjs/swagger';
import { documentedVariants } from '../../common/http/api-schema';
import { applyConventions } from './conventions';
import { routeFacts } from './route-facts';

/** The OpenAPI document of the running application, as /docs-json serves it and openapi.json keeps it. */
export function buildApiDocument(app: INestApplication): OpenAPIObject {
  const config = new DocumentBuilder()
    .setTitle('Yuanbridge API')
    .setDescription('Peer-to-peer USD/CNY exchange with escrow. Errors are RFC 9457 problem details with a stable `code`.')
    .setVersion('1')
    .addBearerAuth()
    .addApiKey({ type: 'apiKey', in: 'header', name: 'X-Api-Key' }, 'apiKey')
    .build();
  // Provisional ids name the controller method, so the conventions can find each route's metadata.
  const document = SwaggerModule.createDocument(app, config, {
    operationIdFactory: (controllerKey, methodKey) => `${controllerKey}.${methodKey}`,
    extraModels: documentedVariants(),
  });
  return applyConventions(document as unknown as Record<string, unknown>, routeFacts(app)) as unknown as OpenAPIObject;
}
