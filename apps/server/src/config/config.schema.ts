import { Type, type Static } from '@sinclair/typebox';

/** Store types that keep stored messages in the node's own files rather than in a database every node shares. */
export const NODE_LOCAL_STORES: readonly string[] = ['sqlite'];

/**
 * Every configuration key, its type, default and bounds. YAML supplies values, `IPUBSUB_<PATH>` environment
 * variables override them (`http.port` → `IPUBSUB_HTTP_PORT`), and this schema validates the result at start.
 */
export const ConfigSchema = Type.Object(
  {
    node: Type.Object(
      {
        /** This node's name in the cluster, its logs and the default store directory; unique per cluster. */
        name: Type.String({ minLength: 1, pattern: '^[A-Za-z0-9_.-]+$', default: 'node-1' }),
        /**
         * Processes serving this node's port, each a ring member of its own (`auto`: one per core). Worker i is
         * named `<name>-w<i>`, also listens on http.port + i and gossips on cluster.gossip.port + i.
         */
        workers: Type.Union([Type.Integer({ minimum: 1, maximum: 256 }), Type.Literal('auto')], { default: 1 }),
      },
      { default: {}, additionalProperties: false },
    ),
    http: Type.Object(
      {
        /** Address the HTTP API listens on: `0.0.0.0` for every interface. */
        host: Type.String({ default: '127.0.0.1' }),
        /** Port of the HTTP API (clients, other nodes' forwarded requests, /metrics); 0 picks a free one. */
        port: Type.Integer({ minimum: 0, maximum: 65535, default: 8801 }),
        /** Base URL other nodes use to reach this one; defaults to http://host:port. */
        advertiseUrl: Type.Optional(Type.String({ minLength: 1 })),
        /** Largest request body accepted; a larger one is refused with 413 PAYLOAD_TOO_LARGE. */
        bodyLimitBytes: Type.Integer({ minimum: 1024, default: 1_048_576 }),
        /** A client must send its request line and headers within this, or the connection is closed (slowloris). */
        headersTimeoutSeconds: Type.Number({ minimum: 1, default: 15 }),
        /**
         * A client must send its whole request, body included, within this (a slow upload cannot hold a socket).
         * Only the request: a long poll's wait for its answer is not limited by it.
         */
        requestTimeoutSeconds: Type.Number({ minimum: 1, default: 30 }),
        /** An idle keep-alive connection is closed after this; above the 60 s idle timeout of common proxies. */
        keepAliveTimeoutSeconds: Type.Number({ minimum: 1, default: 65 }),
        /**
         * Open connections at once; beyond, new ones are closed at once. Room for 20,000 long polls and the
         * senders beside them; the process's open-file limit (`ulimit -n`) must be higher to reach it.
         */
        maxConnections: Type.Integer({ minimum: 1, default: 30_000 }),
        /** Origins allowed by CORS: `*` for any, or exact origins. Empty: CORS off. */
        corsOrigins: Type.Array(Type.String(), { default: [] }),
        /** HTTPS on the node's port: PEM certificate (chain) and key, both or neither; re-read on SIGHUP. */
        tls: Type.Object(
          {
            /** PEM file of the certificate, followed by its chain. */
            certFile: Type.Optional(Type.String({ minLength: 1 })),
            /** PEM file of the certificate's private key. */
            keyFile: Type.Optional(Type.String({ minLength: 1 })),
          },
          { default: {}, additionalProperties: false },
        ),
      },
      { default: {}, additionalProperties: false },
    ),
    cluster: Type.Object(
      {
        /** Nodes join only a cluster of the same name. */
        name: Type.String({ minLength: 1, default: 'ipubsub' }),
        /**
         * Shared secret that authenticates gossip and forwarded requests; empty: none. A cluster with
         * `auth.mode: jwt` needs one of at least 32 characters (forwarded requests carry the entry node's decision).
         */
        secret: Type.String({ default: '' }),
        tls: Type.Object(
          {
            /** PEM certificates of a private CA trusted for members' https:// URLs (besides the system's). */
            caFile: Type.Optional(Type.String({ minLength: 1 })),
          },
          { default: {}, additionalProperties: false },
        ),
        gossip: Type.Object(
          {
            /** Address the gossip (UDP) socket binds to. */
            host: Type.String({ default: '127.0.0.1' }),
            /** UDP port of gossip; open it between the nodes. */
            port: Type.Integer({ minimum: 0, maximum: 65535, default: 7901 }),
            /** Gossip address (host:port) other nodes reach this one at; defaults to host:port. */
            advertise: Type.Optional(Type.String({ minLength: 1 })),
            /** SWIM: one member probed per period; a crash is noticed within about 2 periods + the suspicion. */
            protocolPeriodMs: Type.Integer({ minimum: 10, default: 500 }),
            /** No ack within this: other members are asked to probe (indirect probe). */
            probeTimeoutMs: Type.Integer({ minimum: 1, default: 200 }),
            /** A suspect is declared dead after multiplier × max(1, log10 members) × protocolPeriodMs. */
            suspicionMultiplier: Type.Number({ minimum: 1, default: 3 }),
          },
          { default: {}, additionalProperties: false },
        ),
        /** Gossip addresses (host:port) of nodes to join through; empty: a single node. */
        seeds: Type.Array(Type.String({ minLength: 1 }), { default: [] }),
      },
      { default: {}, additionalProperties: false },
    ),
    auth: Type.Object(
      {
        /**
         * `none`: whoever reaches the port may send and receive on every stream (refused on a non-loopback
         * `http.host` unless `allowAnonymous`). `jwt`: a bearer token whose `ipubsub` claim lists the streams.
         */
        mode: Type.Union([Type.Literal('none'), Type.Literal('jwt')], { default: 'none' }),
        /** Lets `auth.mode: none` listen on a non-loopback address (a trusted network, or auth in a proxy). */
        allowAnonymous: Type.Boolean({ default: false }),
        /** With `auth.mode: jwt`, `/ready` and `/metrics` need a valid token too (`/health` stays open). */
        protectMetrics: Type.Boolean({ default: false }),
        jwt: Type.Object(
          {
            /** HMAC key (HS256/384/512), at least 32 characters; or use publicKeyFile or jwksUrl. */
            secret: Type.String({ default: '' }),
            /** PEM public key (RS*, PS*, ES*, EdDSA; the algorithms follow the key's type). */
            publicKeyFile: Type.Optional(Type.String({ minLength: 1 })),
            /** JSON Web Key Set URL; fetched when a token names a `kid` not seen yet, at most every 30 s. */
            jwksUrl: Type.Optional(Type.String({ minLength: 1 })),
            /** Required `iss` of every token, when set. */
            issuer: Type.Optional(Type.String({ minLength: 1 })),
            /** Required `aud` of every token, when set. */
            audience: Type.Optional(Type.String({ minLength: 1 })),
            /** Leeway for `exp` and `nbf` against clock differences with the token's issuer. */
            clockToleranceSeconds: Type.Integer({ minimum: 0, maximum: 300, default: 5 }),
            /** Verified tokens remembered (until their `exp`) so that a request with a known token costs a lookup. */
            cacheSize: Type.Integer({ minimum: 0, maximum: 1_000_000, default: 10_000 }),
          },
          { default: {}, additionalProperties: false },
        ),
      },
      { default: {}, additionalProperties: false },
    ),
    streams: Type.Object(
      {
        /** How many recent messageUuids each in-memory stream remembers to drop retried sends. */
        dedupWindow: Type.Integer({ minimum: 0, maximum: 10_000, default: 100 }),
        /** How long an empty stream with nobody waiting is kept (and remembers its messageUuids). */
        idleEvictionSeconds: Type.Number({ minimum: 0.01, default: 60 }),
      },
      { default: {}, additionalProperties: false },
    ),
    limits: Type.Object(
      {
        /** Longest `timeoutSeconds` or `blockingSendTimeoutSeconds` a request may ask for; more is refused with 400. */
        maxTimeoutSeconds: Type.Integer({ minimum: 0, default: 300 }),
        /** Largest `inMemoryStreamSize` (messages one in-memory stream holds) a send may ask for; more is refused with 400. */
        maxInMemoryStreamSize: Type.Integer({ minimum: 1, default: 100_000 }),
        /** Streams a node holds in memory; a send creating one more gets 429 TOO_MANY_STREAMS. */
        maxStreams: Type.Integer({ minimum: 1, default: 5_000_000 }),
        /** Receivers and blocked senders waiting on one stream; one more gets 429 TOO_MANY_WAITERS. */
        maxWaitersPerStream: Type.Integer({ minimum: 1, default: 10_000 }),
        /** Receivers and blocked senders waiting on the whole node; one more gets 429 TOO_MANY_WAITERS. */
        maxWaitersPerNode: Type.Integer({ minimum: 1, default: 200_000 }),
        /**
         * Bytes of message data the node holds in memory (buffered, parked with blocked senders, waiting for the
         * store's commit, in a hand-off), counted as the JSON each arrived in; a send beyond it gets 503
         * MEMORY_FULL. Default: a quarter of the V8 heap limit (`--max-old-space-size`); at most half of it.
         * Per process: each of `node.workers` has its own heap and its own budget, so the machine needs room
         * for workers × this (plus about as much again for requests in flight and garbage).
         */
        maxBufferedBytes: Type.Optional(Type.Integer({ minimum: 65_536 })),
        /** Bytes of messages one in-memory stream buffers, beside `inMemoryStreamSize`; a larger message is 413. */
        maxStreamBytes: Type.Integer({ minimum: 1024, default: 64 * 1024 * 1024 }),
      },
      { default: {}, additionalProperties: false },
    ),
    store: Type.Object(
      {
        /** Where stored messages (`writeToDB`) live: the embedded SQLite file, or a database server. */
        type: Type.Union(
          [
            Type.Literal('sqlite'),
            Type.Literal('postgres'),
            Type.Literal('mysql'),
            Type.Literal('cassandra'),
            Type.Literal('mongodb'),
          ],
          { default: 'sqlite' },
        ),
        /** Connection URL of a database server (postgres, mysql, cassandra, mongodb). */
        url: Type.Optional(Type.String({ minLength: 1 })),
        /** Directory of the embedded database; defaults to ./data/<node.name>. */
        path: Type.Optional(Type.String({ minLength: 1 })),
        /**
         * Connections each node keeps to a database server (postgres, mysql). Every node of a cluster opens its
         * own pool: keep nodes × poolSize under the server's connection limit.
         */
        poolSize: Type.Integer({ minimum: 1, maximum: 1000, default: 10 }),
        /** Key that signs resume tokens; set the same value on every node of a cluster. */
        tokenSecret: Type.String({ default: 'ipubsub-dev-token-secret' }),
        /** How often expired stored messages are deleted (in small batches). */
        purgeIntervalSeconds: Type.Number({ minimum: 0.1, default: 30 }),
        /**
         * Lets a cluster (cluster.seeds set) run on a node-local store (sqlite), for development: each member keeps
         * the stored messages of the streams it is home to in its own file, so while a member is down its stored
         * streams answer 503 until it is back, and a member whose disk is lost takes them with it. Off: such a
         * cluster refuses to start. Shared stores (every type but sqlite) need no opt-in.
         */
        allowNodeLocalInCluster: Type.Boolean({ default: false }),
      },
      { default: {}, additionalProperties: false },
    ),
    events: Type.Object(
      {
        /** A comment line after this long without events, so proxies do not cut an idle live tail. */
        heartbeatSeconds: Type.Number({ minimum: 0.1, default: 15 }),
        /** A live tail is ended after this long; the reader reconnects (to the stream's owner of the moment). */
        maxLifetimeSeconds: Type.Number({ minimum: 1, default: 3600 }),
        /** Unsent bytes a live tail's connection may hold before the reader is disconnected as too slow. */
        maxPendingBytes: Type.Integer({ minimum: 1024, default: 1_048_576 }),
      },
      { default: {}, additionalProperties: false },
    ),
    log: Type.Object(
      {
        /** Least severe level written. */
        level: Type.Union(
          ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map((level) => Type.Literal(level)),
          { default: 'info' },
        ),
        /** `json`: one JSON object per line; `pretty`: coloured lines for a person; `auto`: pretty on a terminal. */
        format: Type.Union([Type.Literal('auto'), Type.Literal('json'), Type.Literal('pretty')], { default: 'auto' }),
        /** Log every HTTP request answered (method, path, status, duration) at info; off: only errors. */
        requests: Type.Boolean({ default: false }),
      },
      { default: {}, additionalProperties: false },
    ),
    shutdown: Type.Object(
      {
        /** Longest a SIGTERM drain may take before the process exits anyway. */
        graceSeconds: Type.Number({ minimum: 0, default: 10 }),
      },
      { default: {}, additionalProperties: false },
    ),
  },
  { additionalProperties: false },
);

/** The configuration once loaded: every key has its value, those derived at start (`limits.maxBufferedBytes`) too. */
export type AppConfig = Static<typeof ConfigSchema> & {
  limits: Static<typeof ConfigSchema>['limits'] & { maxBufferedBytes: number };
};
