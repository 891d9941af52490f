import { Controller, Get, Module, Res } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import { makeHistogramProvider, PrometheusController, PrometheusModule } from '@willsoto/nestjs-prometheus';
import { Public } from '../common/auth/decorators';

export const HTTP_DURATION_METRIC = 'http_request_duration_seconds';

@ApiExcludeController()
@Public()
@Controller()
export class MetricsController extends PrometheusController {
  @Get()
  override async index(@Res({ passthrough: true }) response: unknown) {
    return super.index(response);
  }
}

@Module({
  imports: [PrometheusModule.register({ path: '/metrics', controller: MetricsController, defaultMetrics: { enabled: true } })],
  providers: [
    makeHistogramProvider({
      name: HTTP_DURATION_METRIC,
      help: 'HTTP request latency by route template',
      labelNames: ['method', 'route', 'status_code'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    }),
  ],
  exports: [PrometheusModule, `PROM_METRIC_${HTTP_DURATION_METRIC.toUpperCase()}`],
})
export class MetricsModule {}
