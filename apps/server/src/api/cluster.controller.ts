import { Controller, Get, Inject, Query } from '@nestjs/common';
import { RouteSchema } from '@nestjs/platform-fastify';
import { RING_HASH, StreamId, type ClusterRouting } from '@ipubsub/sdk/wire';
import { Type } from '@sinclair/typebox';
import { APP_CONFIG, type AppConfig } from '../config/index.js';
import { Membership, type MemberView } from '../cluster/index.js';

export interface ClusterView {
  readonly cluster: string;
  readonly self: string;
  /** This node has joined (or, alone, has given up waiting for seeds). */
  readonly joined: boolean;
  /** Changes of the ring this node has seen; compare `ring` across nodes to check they agree. */
  readonly ringVersion: number;
  /** Names of the members that own streams, sorted. */
  readonly ring: string[];
  readonly members: MemberView[];
  /** What a client needs to send each request straight to its stream's owner. */
  readonly routing: ClusterRouting;
}

const OwnerQuery = Type.Object({ streamId: StreamId }, { additionalProperties: false });

@Controller('api/v1/cluster')
export class ClusterController {
  constructor(
    @Inject(Membership) private readonly membership: Membership,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  /** Who is in the cluster, as this node sees it. */
  @Get()
  view(): ClusterView {
    const ring = this.membership.ring;
    return {
      cluster: this.config.cluster.name,
      self: this.membership.self.name,
      joined: this.membership.joined,
      ringVersion: ring.version,
      ring: ring.names,
      members: this.membership.members(),
      routing: {
        hash: RING_HASH,
        version: ring.fingerprint,
        members: ring.members.map((member) => ({ name: member.name, url: member.http })),
      },
    };
  }

  /** Which node owns a stream (serves its requests), as this node sees the ring. */
  @Get('owner')
  @RouteSchema({ querystring: OwnerQuery })
  owner(@Query('streamId') streamId: string): { streamId: string; owner: string | null; ringVersion: number } {
    const ring = this.membership.ring;
    return { streamId, owner: ring.owner(streamId)?.name ?? null, ringVersion: ring.version };
  }
}
