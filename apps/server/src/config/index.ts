export { ConfigSchema, type AppConfig } from './config.schema.js';
export { ConfigError, loadConfig, envName } from './load-config.js';
export { APP_CONFIG, ConfigModule } from './config.module.js';
