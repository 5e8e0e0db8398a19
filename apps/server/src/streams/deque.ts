/**
 * A double-ended queue on a power-of-two ring that starts tiny and grows on demand, so a stream holding one
 * message costs a few words rather than a preallocated `inMemoryStreamSize` array.
 */
export class Deque<T> {
  private items: (T | undefined)[];
  private head = 0;
  private count = 0;

  constructor(initialCapacity = 2) {
    this.items = new Array<T | undefined>(initialCapacity);
  }

  get size(): number {
    return this.count;
  }

  pushBack(item: T): void {
    if (this.count === this.items.length) this.grow();
    this.items[(this.head + this.count) & (this.items.length - 1)] = item;
    this.count++;
  }

  pushFront(item: T): void {
    if (this.count === this.items.length) this.grow();
    this.head = (this.head - 1) & (this.items.length - 1);
    this.items[this.head] = item;
    this.count++;
  }

  peekFront(): T | undefined {
    return this.count === 0 ? undefined : this.items[this.head];
  }

  /** The item `index` places behind the front (0: the front), or undefined past the back. */
  at(index: number): T | undefined {
    return index < this.count ? this.items[(this.head + index) & (this.items.length - 1)] : undefined;
  }

  popFront(): T | undefined {
    if (this.count === 0) return undefined;
    const item = this.items[this.head];
    this.items[this.head] = undefined;
    this.head = (this.head + 1) & (this.items.length - 1);
    this.count--;
    return item;
  }

  /** Removes one occurrence; O(n), used only when a waiter gives up. */
  remove(item: T): boolean {
    const mask = this.items.length - 1;
    for (let i = 0; i < this.count; i++) {
      if (this.items[(this.head + i) & mask] !== item) continue;
      for (let j = i; j < this.count - 1; j++) {
        this.items[(this.head + j) & mask] = this.items[(this.head + j + 1) & mask];
      }
      this.items[(this.head + this.count - 1) & mask] = undefined;
      this.count--;
      return true;
    }
    return false;
  }

  /** Items front to back. */
  toArray(): T[] {
    const out = new Array<T>(this.count);
    const mask = this.items.length - 1;
    for (let i = 0; i < this.count; i++) out[i] = this.items[(this.head + i) & mask] as T;
    return out;
  }

  private grow(): void {
    const next = new Array<T | undefined>(Math.max(2, this.items.length * 2));
    const mask = this.items.length - 1;
    for (let i = 0; i < this.count; i++) next[i] = this.items[(this.head + i) & mask];
    this.items = next;
    this.head = 0;
  }
}
