export { ApiModule } from './api.module.js';
export { ApiExceptionFilter, sendError } from './errors.js';
export { InternalRoutesModule } from './internal.controller.js';
export { SendGate } from './send-gate.js';
export { StreamEventsController } from './stream-events.js';
export { StreamsController } from './streams.controller.js';
export { registerStreamRoutes } from './streams.routes.js';
export { registerTokenGuard } from './token-guard.js';
export { openApiDocument, registerOpenApi } from './openapi.js';
