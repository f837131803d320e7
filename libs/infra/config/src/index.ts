export { envSchema, ENV_VARIABLES, type Env } from './schema.js';
export { parseEnv, ConfigError } from './load.js';
export { readProcessEnv, readDevelopmentEnv, inheritedEnv, presentSecrets } from './env.js';
export { GATEWAY_SECRETS, secretsIn, tenantWorkerEnv, withThrowawaySecrets } from './worker-env.js';
export { AppConfig, ConfigModule } from './config.module.js';
