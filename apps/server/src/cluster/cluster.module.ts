import {
  Global,
  Inject,
  Module,
  type DynamicModule,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
  type OnModuleInit,
} from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import type { Server } from 'node:http';
import type { Logger } from 'pino';
import { Counter } from 'prom-client';
import { APP_CONFIG, type AppConfig } from '../config/index.js';
import { NodeLifecycle } from '../lifecycle/index.js';
import { Metrics, Readiness } from '../observability/index.js';
import { StoredStreams, StoreModule } from '../store/index.js';
import { StreamEngine } from '../streams/index.js';
import { StreamsModule } from '../streams/streams.module.js';
import { clusterTrust } from '../tls.js';
import { ClusterAuth } from './auth.js';
import { HandOff } from './handoff.js';
import { Membership } from './membership/membership.js';
import { isMember } from './membership/member-records.js';
import { formatAddress } from './membership/udp-transport.js';
import { PeerClient, type SiblingRoutes } from './peer-client.js';
import { ClusterRouter } from './router.js';
import { StoredHomes } from './stored-homes.js';

const CLUSTER_LOGGER = Symbol('CLUSTER_LOGGER');

/**
 * Membership, ownership and hand-off. Global so that the api layer can route through `ClusterRouter` and
 * serve the hand-off's routes, and the shutdown can call `HandOff.leave()`, without importing this module.
 */
@Global()
@Module({})
export class ClusterModule implements OnModuleInit, OnApplicationBootstrap, OnApplicationShutdown {
  /** `siblings`: the other workers of this machine (`node.workers`), reached without HTTP. */
  static forRoot(logger: Logger, siblings?: SiblingRoutes): DynamicModule {
    return {
      module: ClusterModule,
      imports: [StreamsModule, StoreModule],
      providers: [
        { provide: CLUSTER_LOGGER, useValue: logger.child({ component: 'cluster' }) },
        {
          provide: ClusterAuth,
          inject: [APP_CONFIG],
          useFactory: (config: AppConfig) => new ClusterAuth(config.cluster.secret),
        },
        {
          provide: Membership,
          inject: [APP_CONFIG, ClusterAuth, NodeLifecycle, CLUSTER_LOGGER],
          useFactory: (config: AppConfig, auth: ClusterAuth, lifecycle: NodeLifecycle, log: Logger) =>
            createMembership(config, auth, lifecycle, log),
        },
        {
          provide: PeerClient,
          inject: [ClusterAuth, Membership, APP_CONFIG],
          useFactory: (auth: ClusterAuth, membership: Membership, config: AppConfig) =>
            PeerClient.create(auth, membership.clustered, clusterTrust(config.cluster.tls), siblings),
        },
        {
          provide: StoredHomes,
          inject: [Membership, StoredStreams, PeerClient, CLUSTER_LOGGER, Metrics],
          useFactory: (
            membership: Membership,
            stored: StoredStreams,
            peers: PeerClient,
            log: Logger,
            metrics: Metrics,
          ) => {
            const copied = new Counter({
              name: 'ipubsub_cluster_stored_copies_total',
              help: 'Stored messages copied between members on a node-local store (in: new here; out: sent), as streams change home',
              labelNames: ['direction'] as const,
              registers: [metrics.registry],
            });
            return new StoredHomes(membership, stored, peers, log, (direction, messages) =>
              copied.labels(direction).inc(messages),
            );
          },
        },
        {
          provide: HandOff,
          inject: [
            StreamEngine,
            StoredStreams,
            Membership,
            PeerClient,
            StoredHomes,
            NodeLifecycle,
            CLUSTER_LOGGER,
            Metrics,
          ],
          useFactory: (
            engine: StreamEngine,
            stored: StoredStreams,
            membership: Membership,
            peers: PeerClient,
            homes: StoredHomes,
            lifecycle: NodeLifecycle,
            log: Logger,
            metrics: Metrics,
          ) => {
            const moved = new Counter({
              name: 'ipubsub_cluster_handoff_messages_total',
              help: 'In-memory messages moved between nodes by hand-off, by direction',
              labelNames: ['direction'] as const,
              registers: [metrics.registry],
            });
            return new HandOff(engine, stored, membership, peers, homes, lifecycle, log, (direction, messages) =>
              moved.labels(direction).inc(messages),
            );
          },
        },
        {
          provide: ClusterRouter,
          inject: [Membership, HandOff, StoredHomes, ClusterAuth, APP_CONFIG],
          useFactory: (
            membership: Membership,
            handOff: HandOff,
            homes: StoredHomes,
            auth: ClusterAuth,
            config: AppConfig,
          ) => new ClusterRouter(membership, handOff, homes, auth, config.auth.mode === 'jwt'),
        },
      ],
      exports: [ClusterRouter, HandOff, Membership, PeerClient, StoredHomes, ClusterAuth],
    };
  }

  constructor(
    @Inject(Membership) private readonly membership: Membership,
    @Inject(HandOff) private readonly handOff: HandOff,
    @Inject(PeerClient) private readonly peers: PeerClient,
    @Inject(HttpAdapterHost) private readonly adapterHost: HttpAdapterHost,
    @Inject(Readiness) private readonly readiness: Readiness,
    @Inject(Metrics) private readonly metrics: Metrics,
  ) {}

  async onModuleInit(): Promise<void> {
    const membership = this.membership;
    this.readiness.register({ name: 'cluster', check: () => membership.notReadyReason });
    this.metrics.gauge(
      'ipubsub_cluster_members',
      'Members this node counts as alive or suspect (itself included)',
      () => membership.members().filter((member) => isMember(member.state)).length,
    );
    this.metrics.gauge('ipubsub_cluster_ring_version', 'Ring changes seen by this node', () => membership.ring.version);
    if (!membership.clustered) return;
    await membership.bind();
  }

  /** Gossip starts once the HTTP server listens, so that no member forwards to this node before it can answer. */
  onApplicationBootstrap(): void {
    if (!this.membership.clustered) return;
    const server = this.adapterHost.httpAdapter.getHttpServer() as Server;
    if (server.listening) this.membership.start(this.handOff);
    else server.once('listening', () => this.membership.start(this.handOff));
  }

  async onApplicationShutdown(): Promise<void> {
    this.membership.stop();
    await this.peers.close();
  }
}

/** This node's addresses as others reach them; a wildcard bind address needs an explicit advertise setting. */
function createMembership(config: AppConfig, auth: ClusterAuth, lifecycle: NodeLifecycle, logger: Logger): Membership {
  const { http, cluster } = config;
  const clustered = cluster.seeds.length > 0;
  const wildcard = (host: string): boolean => host === '0.0.0.0' || host === '::' || host === '';
  if (clustered && http.advertiseUrl === undefined && (wildcard(http.host) || http.port === 0)) {
    throw new Error('http.advertiseUrl must be set when http.host is a wildcard address or http.port is 0');
  }
  if (
    clustered &&
    cluster.gossip.advertise === undefined &&
    (wildcard(cluster.gossip.host) || cluster.gossip.port === 0)
  ) {
    throw new Error(
      'cluster.gossip.advertise must be set when cluster.gossip.host is a wildcard address or its port is 0',
    );
  }
  const urlHost = http.host.includes(':') ? `[${http.host}]` : http.host;
  const scheme = http.tls.certFile === undefined ? 'http' : 'https';
  return new Membership(
    {
      cluster: cluster.name,
      self: {
        name: config.node.name,
        gossip: cluster.gossip.advertise ?? formatAddress(cluster.gossip.host, cluster.gossip.port),
        http: (http.advertiseUrl ?? `${scheme}://${urlHost}:${http.port}`).replace(/\/+$/, ''),
      },
      seeds: cluster.seeds,
      bind: { host: cluster.gossip.host, port: cluster.gossip.port },
      timing: {
        protocolPeriodMs: cluster.gossip.protocolPeriodMs,
        probeTimeoutMs: cluster.gossip.probeTimeoutMs,
        suspicionMultiplier: cluster.gossip.suspicionMultiplier,
      },
    },
    auth,
    lifecycle,
    logger,
  );
}
