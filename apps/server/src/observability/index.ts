export { ObservabilityModule } from './observability.module.js';
export { Metrics } from './metrics.js';
export {
  RequestDurations,
  secondsSince,
  secondsSinceArrival,
  stampArrival,
  type RouteDurations,
} from './request-durations.js';
export { Readiness, type ReadinessCheck } from './readiness.js';
export { createLogger, logRequest, LOGGER, PinoNestLogger } from './logger.js';
