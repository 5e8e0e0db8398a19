export { ObservabilityModule } from './observability.module.js';
export { Metrics } from './metrics.js';
export { Readiness, type ReadinessCheck } from './readiness.js';
export { createLogger, PinoNestLogger } from './logger.js';
