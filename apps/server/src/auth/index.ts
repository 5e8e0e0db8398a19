export { AUTHENTICATOR, AuthModule } from './auth.module.js';
export { Authenticator, Denial, type StreamAction } from './authenticator.js';
export { StreamScope } from './stream-scope.js';
export { TokenVerifier, type Grant } from './token-verifier.js';
