/**
 * The server's import graph, checked by `pnpm lint` (docs/architecture.md draws it): no cycles, type-only imports
 * included; only the api layer speaks HTTP, so nothing but it and the start-up wiring imports it; and the layers
 * below depend only downwards: api → cluster → streams / store / auth → config / observability.
 */
const SRC = '^apps/server/src/';
/** The start-up wiring, which assembles every layer (the api one included). */
const WIRING = `${SRC}(main|app\\.module|http-setup|http-setup\\.test)\\.ts$`;

/** A layer may not import the layers listed after it. */
const layer = (name, from, forbidden, comment) => ({
  name,
  severity: 'error',
  comment,
  from: { path: `${SRC}${from}/` },
  to: { path: `${SRC}(${forbidden.join('|')})/` },
});

module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'A cycle, even of types only, means two modules cannot be read (or changed) one without the other.',
      from: {},
      to: { circular: true },
    },
    {
      name: 'api-only-from-wiring',
      severity: 'error',
      comment:
        'Only api/ speaks HTTP: other layers throw a DomainError (domain-error.ts) or return a result, and api/ answers it.',
      from: { path: SRC, pathNot: [`${SRC}api/`, WIRING] },
      to: { path: `${SRC}api/` },
    },
    layer(
      'cluster-below-api',
      'cluster',
      ['workers', 'cli'],
      'The cluster layer is wired by start-up, not the other way.',
    ),
    layer(
      'streams-is-the-engine',
      'streams',
      ['cluster', 'store', 'auth', 'workers', 'cli'],
      'The in-memory engine knows nothing of the cluster, the store or auth.',
    ),
    layer(
      'store-below-cluster',
      'store',
      ['cluster', 'streams', 'auth', 'workers', 'cli'],
      'The store keeps messages; routing them is the cluster layer.',
    ),
    layer(
      'auth-below-cluster',
      'auth',
      ['cluster', 'streams', 'store', 'workers', 'cli'],
      'Auth decides from tokens alone.',
    ),
    layer(
      'observability-at-the-bottom',
      'observability',
      ['cluster', 'streams', 'store', 'auth', 'workers', 'cli'],
      'Metrics, readiness and logs are used by every layer and use none of them.',
    ),
    layer(
      'config-at-the-bottom',
      'config',
      ['cluster', 'streams', 'store', 'auth', 'observability', 'workers', 'cli'],
      'Configuration is read by every layer and reads none of them.',
    ),
    layer(
      'lifecycle-at-the-bottom',
      'lifecycle',
      ['cluster', 'streams', 'store', 'auth', 'observability', 'workers', 'cli'],
      'Every component reads the lifecycle state; it reads none of them.',
    ),
    {
      name: 'domain-error-is-a-leaf',
      severity: 'error',
      comment: 'Every layer may raise a DomainError, so it imports none of them.',
      from: { path: `${SRC}domain-error\\.ts$` },
      to: { path: SRC },
    },
  ],
  options: {
    // Type-only imports count: a cycle of types is still a cycle to a reader.
    tsPreCompilationDeps: true,
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '(^|/)dist/' },
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'types', 'default'] },
  },
};
