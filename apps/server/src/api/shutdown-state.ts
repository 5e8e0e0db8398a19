/** Set when the node starts draining: new work is refused so clients retry elsewhere. */
export class ShutdownState {
  draining = false;
}
