import { Controller, Get, Global, Header, Module, type DynamicModule } from '@nestjs/common';
import { register } from 'prom-client';
import { MetricsRegistry } from './metrics.js';

@Controller()
class MetricsController {
  constructor(private readonly metrics: MetricsRegistry) {}

  @Get('metrics')
  @Header('content-type', register.contentType)
  @Header('cache-control', 'no-store')
  async metricsText(): Promise<string> {
    return this.metrics.render();
  }
}

@Global()
@Module({})
export class MetricsModule {
  static forRoot(app: string): DynamicModule {
    return {
      module: MetricsModule,
      controllers: [MetricsController],
      providers: [{ provide: MetricsRegistry, useValue: new MetricsRegistry(app) }],
      exports: [MetricsRegistry],
    };
  }
}
