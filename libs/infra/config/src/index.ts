export { envSchema, ENV_VARIABLES, type Env } from './schema.js';
export { parseEnv, ConfigError } from './load.js';
export { readProcessEnv, readDevelopmentEnv, inheritedEnv } from './env.js';
export { AppConfig, ConfigModule } from './config.module.js';
