export { ConfigSchema, NODE_LOCAL_STORES, type AppConfig } from './config.schema.js';
export { ConfigError } from './config-error.js';
export { loadConfig, envName } from './load-config.js';
export { checkClusterSecret, isLoopback, MIN_SECRET_LENGTH } from './safe-defaults.js';
export { APP_CONFIG, ConfigModule } from './config.module.js';
