import type { TSchema } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import type { FastifyInstance } from 'fastify';
import { NodeWire } from '@ipubsub/sdk/wire';
import {
  AUTH_HEADER,
  INTERNAL_CONTENT_TYPE,
  type ClusterAuth,
  type HandOff,
  type StoredHomes,
} from '../cluster/index.js';
import { DomainError } from '../domain-error.js';
import { sendError, sendRefusal } from './errors.js';

/** Node-to-node hand-off requests may be this large (a chunk is 4 MiB, one message up to http.bodyLimitBytes). */
const INTERNAL_BODY_LIMIT = 64 * 1024 * 1024;

/**
 * The node-to-node routes of the hand-off protocol (in-memory streams, and stored messages on a node-local store). They sit on Fastify directly, not in a Nest controller,
 * for two reasons: the body is read as text so that its HMAC can be checked over the exact bytes sent, and
 * a hand-off may be far larger than a client request (`bodyLimit`).
 */
export function registerInternalRoutes(
  fastify: FastifyInstance,
  handOff: HandOff,
  homes: StoredHomes,
  auth: ClusterAuth,
): void {
  const bodyLimit = INTERNAL_BODY_LIMIT;
  void fastify.register(async (scope) => {
    scope.addContentTypeParser(INTERNAL_CONTENT_TYPE, { parseAs: 'string', bodyLimit }, (_req, body, done) =>
      done(null, body),
    );
    const route = <T>(path: string, schema: TSchema, serve: (payload: T) => unknown): void => {
      const check = TypeCompiler.Compile(schema);
      scope.post(path, { bodyLimit }, async (req, reply) => {
        if (typeof req.body !== 'string')
          return sendError(reply, 'UNSUPPORTED_MEDIA_TYPE', `send ${INTERNAL_CONTENT_TYPE}`);
        const problem = auth.enabled
          ? auth.verifyRequest(req.headers[AUTH_HEADER], 'POST', req.url, 0, req.body)
          : null;
        if (problem !== null) return sendError(reply, 'INVALID_REQUEST', `internal call refused: ${problem}`);
        let payload: unknown;
        try {
          payload = JSON.parse(req.body);
        } catch {
          return sendError(reply, 'INVALID_REQUEST', 'body is not JSON');
        }
        if (!check.Check(payload)) return sendError(reply, 'INVALID_REQUEST', `body does not match the ${path} schema`);
        try {
          return reply.code(200).send((await serve(payload as T)) ?? { ok: true });
        } catch (err) {
          if (err instanceof DomainError) return sendRefusal(reply, err);
          return sendError(reply, 'INTERNAL', (err as Error).message);
        }
      });
    };
    route<NodeWire.PullRequest>(NodeWire.PULL_PATH, NodeWire.PullRequestSchema, (payload) =>
      handOff.servePull(payload),
    );
    route<NodeWire.AdoptRequest>(NodeWire.ADOPT_PATH, NodeWire.AdoptRequestSchema, (payload) =>
      handOff.serveAdopt(payload),
    );
    route<NodeWire.ReturnRequest>(NodeWire.RETURN_PATH, NodeWire.ReturnRequestSchema, (payload) =>
      handOff.serveReturn(payload),
    );
    route<NodeWire.StoredPullRequest>(NodeWire.STORED_PULL_PATH, NodeWire.StoredPullRequestSchema, (payload) =>
      homes.servePull(payload),
    );
    route<NodeWire.StoredKeepRequest>(NodeWire.STORED_KEEP_PATH, NodeWire.StoredKeepRequestSchema, async (payload) => ({
      kept: await homes.serveKeep(payload),
    }));
  });
}
