/**
 * The streams a token may use for one action, from its `ipubsub.send` or `ipubsub.receive` list: each pattern
 * is an exact streamId or a prefix ending in `*` (`orders.*`, `user/42/*`; `*` alone is every stream).
 */
export class StreamScope {
  static readonly NONE = new StreamScope(new Set(), [], false);

  private constructor(
    private readonly exact: ReadonlySet<string>,
    private readonly prefixes: readonly string[],
    private readonly everything: boolean,
  ) {}

  /** Throws a TypeError (the token is malformed) unless `patterns` is absent or a list of patterns. */
  static parse(patterns: unknown, claim: string): StreamScope {
    if (patterns === undefined) return StreamScope.NONE;
    if (!Array.isArray(patterns)) throw new TypeError(`claim ${claim} must be a list of stream patterns`);
    const exact = new Set<string>();
    const prefixes: string[] = [];
    for (const pattern of patterns) {
      if (typeof pattern !== 'string' || pattern === '')
        throw new TypeError(`claim ${claim} must hold non-empty strings`);
      const star = pattern.indexOf('*');
      if (star === -1) exact.add(pattern);
      else if (star === pattern.length - 1) prefixes.push(pattern.slice(0, -1));
      else throw new TypeError(`claim ${claim}: "*" may only end a pattern`);
    }
    return new StreamScope(exact, prefixes, prefixes.includes(''));
  }

  allows(streamId: string): boolean {
    if (this.everything || this.exact.has(streamId)) return true;
    for (const prefix of this.prefixes) if (streamId.startsWith(prefix)) return true;
    return false;
  }
}
