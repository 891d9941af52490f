import { Controller, Get, Post, Put } from '@nestjs/common';
import { INTERCEPTORS_METADATA } from '@nestjs/common/constants';
import type { DiscoveryService } from '@nestjs/core';
import type { IdempotencyInterceptor } from './idempotency.interceptor';
import { IdempotentRoutes } from './idempotent-routes';

@Controller('base')
class BaseController {
  @Post('inherited') inherited() {}
}

@Controller('things')
class ThingsController extends BaseController {
  @Get() list() {}
  @Post() create() {}
  @Put(':id') replace() {}
  helper() {}
}

@Controller('others')
class OthersController extends BaseController {}

describe('IdempotentRoutes', () => {
  it('puts the interceptor on POST handlers only, inherited ones included, once each', () => {
    const interceptor = { intercept: jest.fn() } as unknown as IdempotencyInterceptor;
    const controllers = [ThingsController, OthersController].map((metatype) => ({ metatype, name: metatype.name }));
    const routes = new IdempotentRoutes({ getControllers: () => controllers } as unknown as DiscoveryService, interceptor);
    const interceptorsOf = (handler: unknown) => Reflect.getMetadata(INTERCEPTORS_METADATA, handler as object) as unknown;
    expect(interceptorsOf(ThingsController.prototype.create)).toEqual([interceptor]);
    expect(interceptorsOf(BaseController.prototype.inherited)).toEqual([interceptor]);
    expect(interceptorsOf(ThingsController.prototype.list)).toBeUndefined();
    expect(interceptorsOf(ThingsController.prototype.replace)).toBeUndefined();
    expect(interceptorsOf(ThingsController.prototype.helper)).toBeUndefined();
    expect(routes.handlers).toEqual(['ThingsController.create', 'ThingsController.inherited', 'OthersController.inherited']);
  });
});
