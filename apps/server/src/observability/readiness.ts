/** A dependency that must be healthy for the node to take traffic (the store, cluster membership). */
export interface ReadinessCheck {
  readonly name: string;
  /** Resolves to null when ready, or a reason for a person. */
  check: () => Promise<string | null> | string | null;
}

/** Collects readiness checks from the modules that own them; `/ready` asks each. */
export class Readiness {
  private readonly checks: ReadinessCheck[] = [];

  register(check: ReadinessCheck): void {
    this.checks.push(check);
  }

  async evaluate(): Promise<{ ready: boolean; checks: Record<string, string> }> {
    const results: Record<string, string> = {};
    let ready = true;
    for (const { name, check } of this.checks) {
      let reason: string | null;
      try {
        reason = await check();
      } catch (err) {
        reason = (err as Error).message;
      }
      results[name] = reason ?? 'ok';
      if (reason !== null) ready = false;
    }
    return { ready, checks: results };
  }
}
