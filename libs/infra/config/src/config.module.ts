import { Global, Module, type DynamicModule } from '@nestjs/common';
import { readProcessEnv } from './env.js';
import type { Env } from './schema.js';

/** Injectable, typed, validated configuration. Inject `AppConfig` and read `config.env`. */
export class AppConfig {
  constructor(readonly env: Env) {}

  /** Base URL used in links the API returns (urls.get, Location). */
  get publicBaseUrl(): string {
    return (this.env.PUBLIC_BASE_URL ?? `http://${this.env.GATEWAY_HOST === '0.0.0.0' ? 'localhost' : this.env.GATEWAY_HOST}:${this.env.GATEWAY_PORT}`).replace(/\/$/, '');
  }
}

@Global()
@Module({})
export class ConfigModule {
  /** With no argument, reads and validates process.env (throws ConfigError at boot). */
  static forRoot(env?: Env): DynamicModule {
    // Read when the app is created, not when the module file is imported, so that the
    // app's runner reports a bad environment as a message instead of an import crash.
    return { module: ConfigModule, providers: [{ provide: AppConfig, useFactory: () => new AppConfig(env ?? readProcessEnv()) }], exports: [AppConfig] };
  }
}
