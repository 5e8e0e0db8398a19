import {
  Controller,
  Inject,
  Injectable,
  Module,
  Post,
  Req,
  Res,
  type DynamicModule,
  type OnModuleInit,
} from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { NodeWire } from '@ipubsub/sdk/wire';
import type { Static, TSchema } from '@sinclair/typebox';
import { TypeCompiler, type TypeCheck } from '@sinclair/typebox/compiler';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { AUTH_HEADER, ClusterAuth, HandOff, INTERNAL_CONTENT_TYPE, StoredHomes } from '../cluster/index.js';
import { DomainError } from '../domain-error.js';
import { sendError, sendRefusal } from './errors.js';

/** Node-to-node hand-off requests may be this large (a chunk is 4 MiB, one message up to http.bodyLimitBytes). */
const INTERNAL_BODY_LIMIT = 64 * 1024 * 1024;

const PULL = TypeCompiler.Compile(NodeWire.PullRequestSchema);
const ADOPT = TypeCompiler.Compile(NodeWire.AdoptRequestSchema);
const RETURN = TypeCompiler.Compile(NodeWire.ReturnRequestSchema);
const STORED_PULL = TypeCompiler.Compile(NodeWire.StoredPullRequestSchema);
const STORED_KEEP = TypeCompiler.Compile(NodeWire.StoredKeepRequestSchema);

/**
 * The node-to-node routes of the hand-off protocol (in-memory streams, and stored messages on a node-local
 * store). Each body is read as text (INTERNAL_CONTENT_TYPE, up to INTERNAL_BODY_LIMIT) so that its HMAC is
 * checked over the exact bytes sent, then parsed and checked against its NodeWire schema.
 */
@Controller()
export class InternalController {
  constructor(
    @Inject(HandOff) private readonly handOff: HandOff,
    @Inject(StoredHomes) private readonly homes: StoredHomes,
    @Inject(ClusterAuth) private readonly auth: ClusterAuth,
  ) {}

  @Post(NodeWire.PULL_PATH)
  pull(@Req() req: FastifyRequest, @Res() reply: FastifyReply): Promise<void> {
    return this.serve(req, reply, NodeWire.PULL_PATH, PULL, (payload) => this.handOff.servePull(payload));
  }

  @Post(NodeWire.ADOPT_PATH)
  adopt(@Req() req: FastifyRequest, @Res() reply: FastifyReply): Promise<void> {
    return this.serve(req, reply, NodeWire.ADOPT_PATH, ADOPT, (payload) => this.handOff.serveAdopt(payload));
  }

  @Post(NodeWire.RETURN_PATH)
  giveBack(@Req() req: FastifyRequest, @Res() reply: FastifyReply): Promise<void> {
    return this.serve(req, reply, NodeWire.RETURN_PATH, RETURN, (payload) => this.handOff.serveReturn(payload));
  }

  @Post(NodeWire.STORED_PULL_PATH)
  storedPull(@Req() req: FastifyRequest, @Res() reply: FastifyReply): Promise<void> {
    return this.serve(req, reply, NodeWire.STORED_PULL_PATH, STORED_PULL, (payload) => this.homes.servePull(payload));
  }

  @Post(NodeWire.STORED_KEEP_PATH)
  storedKeep(@Req() req: FastifyRequest, @Res() reply: FastifyReply): Promise<void> {
    return this.serve(req, reply, NodeWire.STORED_KEEP_PATH, STORED_KEEP, async (payload) => ({
      kept: await this.homes.serveKeep(payload),
    }));
  }

  private async serve<S extends TSchema>(
    req: FastifyRequest,
    reply: FastifyReply,
    path: string,
    check: TypeCheck<S>,
    serve: (payload: Static<S>) => unknown,
  ): Promise<void> {
    if (typeof req.body !== 'string')
      return sendError(reply, 'UNSUPPORTED_MEDIA_TYPE', `send ${INTERNAL_CONTENT_TYPE}`);
    const problem = this.auth.enabled
      ? this.auth.verifyRequest(req.headers[AUTH_HEADER], 'POST', req.url, 0, req.body)
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
      await reply.code(200).send((await serve(payload)) ?? { ok: true });
    } catch (err) {
      if (err instanceof DomainError) return sendRefusal(reply, err);
      return sendError(reply, 'INTERNAL', (err as Error).message);
    }
  }
}

/** Reads INTERNAL_CONTENT_TYPE bodies as text; only the routes above take that type. */
@Injectable()
class InternalBodyParser implements OnModuleInit {
  constructor(@Inject(HttpAdapterHost) private readonly adapterHost: HttpAdapterHost) {}

  onModuleInit(): void {
    // Nest's routes are on the root instance; a parser's bodyLimit applies where the route sets none.
    this.adapterHost.httpAdapter
      .getInstance<FastifyInstance>()
      .addContentTypeParser(
        INTERNAL_CONTENT_TYPE,
        { parseAs: 'string', bodyLimit: INTERNAL_BODY_LIMIT },
        (_req, body, done) => done(null, body),
      );
  }
}

/**
 * The hand-off's routes, on a clustered node only: elsewhere their paths stay unknown (404), and no body of
 * INTERNAL_CONTENT_TYPE is read.
 */
@Module({})
export class InternalRoutesModule {
  static forRoot(clustered: boolean): DynamicModule {
    if (!clustered) return { module: InternalRoutesModule };
    return { module: InternalRoutesModule, controllers: [InternalController], providers: [InternalBodyParser] };
  }
}
