export { ApiModule } from './api.module.js';
export { ApiExceptionFilter, RequestError, sendError } from './errors.js';
export { ShutdownState } from './shutdown-state.js';
