import { Injectable, RequestMethod } from '@nestjs/common';
import { INTERCEPTORS_METADATA, METHOD_METADATA } from '@nestjs/common/constants';
import { DiscoveryService } from '@nestjs/core';
import { IdempotencyInterceptor } from './idempotency.interceptor';

/**
 * Puts the idempotency interceptor on every POST handler, and on nothing else: it acts only on POSTs, and a route
 * with any interceptor at all runs through an rxjs pipeline that Nest builds per request, which every GET paid for
 * nothing while the interceptor was global. It is first on each handler, as a global interceptor was (no controller
 * or handler declares one of its own).
 *
 * Done when this provider is built, after the modules are scanned and before the routes are: Nest reads a
 * handler's interceptors when it registers the route.
 */
@Injectable()
export class IdempotentRoutes {
  readonly handlers: string[] = [];

  constructor(discovery: DiscoveryService, interceptor: IdempotencyInterceptor) {
    for (const wrapper of discovery.getControllers()) {
      const seen = new Set<string>();
      // Up the prototype chain, as Nest looks for handlers: a controller may inherit its routes.
      for (let prototype = (wrapper.metatype as { prototype?: object } | null)?.prototype; prototype && prototype !== Object.prototype;) {
        for (const name of Object.getOwnPropertyNames(prototype)) {
          if (name === 'constructor' || seen.has(name)) continue;
          seen.add(name);
          const handler = Object.getOwnPropertyDescriptor(prototype, name)?.value as unknown;
          if (typeof handler !== 'function' || Reflect.getMetadata(METHOD_METADATA, handler) !== RequestMethod.POST) continue;
          const own = (Reflect.getMetadata(INTERCEPTORS_METADATA, handler) as unknown[] | undefined) ?? [];
          // A handler shared by two controllers (inherited) gets it once.
          if (!own.includes(interceptor)) Reflect.defineMetadata(INTERCEPTORS_METADATA, [interceptor, ...own], handler);
          this.handlers.push(`${wrapper.name}.${name}`);
        }
        prototype = (Object.getPrototypeOf(prototype) as object | null) ?? undefined;
      }
    }
  }
}
