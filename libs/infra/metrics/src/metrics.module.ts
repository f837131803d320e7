import { Global, Module, type DynamicModule } from '@nestjs/common';
import { MetricsRegistry } from './metrics.js';

/** The app's metrics registry; `/metrics` is served on the admin listener (#infra/http listenAdmin), never on the public port. */
@Global()
@Module({})
export class MetricsModule {
  static forRoot(app: string): DynamicModule {
    return {
      module: MetricsModule,
      providers: [{ provide: MetricsRegistry, useValue: new MetricsRegistry(app) }],
      exports: [MetricsRegistry],
    };
  }
}
