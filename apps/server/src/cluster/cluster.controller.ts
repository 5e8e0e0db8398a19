import { Controller, Get, Inject } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '../config/index.js';
import { Membership, type MemberView } from './membership/membership.js';

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
}

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
    };
  }
}
