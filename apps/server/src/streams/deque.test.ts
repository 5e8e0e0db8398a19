import { describe, expect, it } from 'vitest';
import { Deque } from './deque.js';

describe('Deque', () => {
  it('is empty at first', () => {
    const deque = new Deque<number>();
    expect(deque.size).toBe(0);
    expect(deque.peekFront()).toBeUndefined();
    expect(deque.popFront()).toBeUndefined();
    expect(deque.toArray()).toEqual([]);
  });

  it('pops in push order and grows past its initial capacity', () => {
    const deque = new Deque<number>(2);
    for (let i = 0; i < 100; i++) deque.pushBack(i);
    expect(deque.size).toBe(100);
    expect(deque.peekFront()).toBe(0);
    for (let i = 0; i < 100; i++) expect(deque.popFront()).toBe(i);
    expect(deque.size).toBe(0);
  });

  it('keeps order across wrap-around and growth while the head is not at slot 0', () => {
    const deque = new Deque<number>(4);
    const model: number[] = [];
    let next = 0;
    // Alternating pushes and pops move the head around the ring; every 3rd step pushes two, forcing growth.
    for (let step = 0; step < 200; step++) {
      deque.pushBack(next);
      model.push(next++);
      if (step % 3 === 0) {
        deque.pushBack(next);
        model.push(next++);
      }
      if (step % 2 === 0) expect(deque.popFront()).toBe(model.shift());
      expect(deque.toArray()).toEqual(model);
    }
  });

  it('pushFront puts items before the head, also across growth', () => {
    const deque = new Deque<string>(2);
    deque.pushBack('c');
    deque.pushFront('b');
    deque.pushFront('a');
    deque.pushBack('d');
    expect(deque.toArray()).toEqual(['a', 'b', 'c', 'd']);
    expect(deque.popFront()).toBe('a');
    deque.pushFront('z');
    expect(deque.toArray()).toEqual(['z', 'b', 'c', 'd']);
  });

  it('removes one given occurrence and keeps the others in order', () => {
    const deque = new Deque<object>(2);
    const items = Array.from({ length: 7 }, (_, i) => ({ i }));
    deque.popFront();
    for (const item of items) deque.pushBack(item);
    deque.popFront(); // head moves off slot 0
    expect(deque.remove(items[3])).toBe(true);
    expect(deque.remove(items[3])).toBe(false);
    expect(deque.remove({ i: 1 })).toBe(false); // identity, not equality
    expect(deque.toArray()).toEqual([items[1], items[2], items[4], items[5], items[6]]);
    expect(deque.remove(items[6])).toBe(true);
    expect(deque.remove(items[1])).toBe(true);
    expect(deque.toArray()).toEqual([items[2], items[4], items[5]]);
    expect(deque.size).toBe(3);
  });

  it('does not keep references to popped items (they can be collected)', () => {
    const deque = new Deque<object>(2);
    deque.pushBack({});
    deque.popFront();
    const slots = (deque as unknown as { items: unknown[] }).items;
    expect(slots.every((slot) => slot === undefined)).toBe(true);
  });

  it('matches an array model under random operations', () => {
    let seed = 12345;
    const random = (): number => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    const deque = new Deque<number>(1);
    const model: number[] = [];
    for (let step = 0; step < 5000; step++) {
      const r = random();
      if (r < 0.35) {
        deque.pushBack(step);
        model.push(step);
      } else if (r < 0.5) {
        deque.pushFront(step);
        model.unshift(step);
      } else if (r < 0.85) {
        expect(deque.popFront()).toBe(model.shift());
      } else if (model.length > 0) {
        const victim = model[Math.floor(random() * model.length)];
        expect(deque.remove(victim)).toBe(true);
        model.splice(model.indexOf(victim), 1);
      }
      expect(deque.size).toBe(model.length);
      expect(deque.peekFront()).toBe(model[0]);
    }
    expect(deque.toArray()).toEqual(model);
  });
});
