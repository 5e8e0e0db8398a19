/** A free TCP port on loopback, chosen by the OS. */
export function freePort(): Promise<number>;
/** A port `base` with base … base + count - 1 free on loopback for TCP and UDP. */
export function freePortRange(count: number): Promise<number>;
