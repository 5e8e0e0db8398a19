/** Where a node is in its life; it only ever moves forward, and may skip a state (a failed start stops). */
export const NODE_STATES = ['starting', 'ready', 'draining', 'stopped'] as const;
export type NodeState = (typeof NODE_STATES)[number];

/**
 * The node's one lifecycle: `starting` until it listens, `ready` while it takes traffic, `draining` from SIGTERM
 * (new work refused, streams handed off, waiters answered), `stopped` once closed. Every component that behaves
 * differently while shutting down reads it here rather than keeping a flag of its own.
 */
export class NodeLifecycle {
  private current: NodeState = 'starting';
  /** Kept beside the state: every request reads it, as a plain property. */
  private drainingNow = false;

  get state(): NodeState {
    return this.current;
  }

  /** Takes traffic: `/ready` answers 200 only now (if its checks pass too). */
  get ready(): boolean {
    return this.current === 'ready';
  }

  /** From SIGTERM on: new work is refused so that clients retry elsewhere. */
  get draining(): boolean {
    return this.drainingNow;
  }

  /** The node listens and takes traffic. */
  markReady(): void {
    this.moveTo('ready');
  }

  /** Starts the drain; false when it has already started (a second signal), which the caller then ignores. */
  beginDraining(): boolean {
    if (this.draining) return false;
    this.moveTo('draining');
    return true;
  }

  markStopped(): void {
    this.moveTo('stopped');
  }

  private moveTo(next: NodeState): void {
    if (NODE_STATES.indexOf(next) <= NODE_STATES.indexOf(this.current))
      throw new Error(`node lifecycle cannot go from ${this.current} to ${next}`);
    this.current = next;
    this.drainingNow = next === 'draining' || next === 'stopped';
  }
}
