import type { INestApplication } from '@nestjs/common';
import { ModulesContainer } from '@nestjs/core';
import { ACCOUNT_MANAGEMENT, ACTIVE_ACCOUNT, IS_PUBLIC, PASSWORD_SIGN_IN, ROLES } from '../../common/auth/decorators';
import { NEVER_REPLAYED } from '../../idempotency/never-replayed.decorator';

/** What the guards and the idempotency layer will do with a route, read from the same metadata they read. */
export interface RouteFacts {
  public: boolean;
  roles: string[];
  passwordSignIn: boolean;
  accountManagement: boolean;
  activeAccount: boolean;
  neverReplayed: boolean;
}

/** Facts of every controller method, keyed `Controller.method` (the provisional operation id). */
export function routeFacts(app: INestApplication): Map<string, RouteFacts> {
  const facts = new Map<string, RouteFacts>();
  for (const module of app.get(ModulesContainer).values()) {
    for (const wrapper of module.controllers.values()) {
      const controller = wrapper.metatype as (new (...args: never[]) => unknown) | null;
      if (!controller) continue;
      for (const name of Object.getOwnPropertyNames(controller.prototype)) {
        const handler = (controller.prototype as Record<string, unknown>)[name];
        if (name === 'constructor' || typeof handler !== 'function') continue;
        // The handler's own metadata wins over its class's, as Reflector.getAllAndOverride reads it.
        const read = <T>(key: string): T | undefined =>
          (Reflect.getMetadata(key, handler) as T | undefined) ?? (Reflect.getMetadata(key, controller) as T | undefined);
        facts.set(`${controller.name}.${name}`, {
          public: read<boolean>(IS_PUBLIC) === true,
          roles: read<string[]>(ROLES) ?? [],
          passwordSignIn: read<boolean>(PASSWORD_SIGN_IN) === true,
          accountManagement: read<boolean>(ACCOUNT_MANAGEMENT) === true,
          activeAccount: read<boolean>(ACTIVE_ACCOUNT) === true,
          neverReplayed: read<boolean>(NEVER_REPLAYED) === true,
        });
      }
    }
  }
  return facts;
}
