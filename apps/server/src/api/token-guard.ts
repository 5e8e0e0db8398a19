import type { FastifyInstance } from 'fastify';
import { Denial, type Authenticator } from '../auth/index.js';
import { sendDenial } from './errors.js';

const CLUSTER_API = '/api/v1/cluster';
const OPERATIONS_ROUTES = new Set(['/ready', '/metrics']);

/**
 * With `auth.mode: jwt`, the routes outside the stream API that need a token: the cluster API (its topology
 * helps an attacker) for any valid token, and `/ready` and `/metrics` with `auth.protectMetrics`. `/health`
 * stays open for probes. The stream API checks scopes itself, per stream (StreamsController).
 */
export function registerTokenGuard(fastify: FastifyInstance, auth: Authenticator, protectMetrics: boolean): void {
  const guarded = (route: string): boolean =>
    route.startsWith(CLUSTER_API) || (protectMetrics && OPERATIONS_ROUTES.has(route));
  fastify.addHook('onRequest', async (request, reply) => {
    const route = request.routeOptions.url;
    if (route === undefined || !guarded(route)) return;
    const grant = await auth.grantOf(request.headers.authorization);
    if (grant instanceof Denial) return sendDenial(reply, grant);
  });
}
