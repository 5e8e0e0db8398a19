import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { IPubSub } from '@ipubsub/sdk';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { ServerProcess } from '../../e2e/support/server.ts';
import { FeedModule, OrdersService } from './feed.module.ts';

let server: ServerProcess;
beforeAll(async () => {
  server = await ServerProcess.start();
});
afterAll(() => server.stop());

it('applies the events of the stream while the Nest application runs, and stops with it', async () => {
  const stream = `orders-${Date.now()}`;
  const app = await NestFactory.createApplicationContext(FeedModule.forRoot({ baseUrl: server.url, stream }), {
    logger: false,
  });
  app.enableShutdownHooks();
  await app.init();
  const orders = app.get(OrdersService);
  await using producer = new IPubSub({ baseUrl: server.url });
  await producer.send(stream, { orderId: 1, status: 'paid' });
  await producer.send(stream, { orderId: 2, status: 'paid' });
  await producer.send(stream, { orderId: 1, status: 'shipped' });
  for (let attempt = 0; attempt < 400 && orders.statuses.size < 2; attempt++)
    await new Promise((r) => setTimeout(r, 25));
  for (let attempt = 0; attempt < 400 && orders.statuses.get(1) !== 'shipped'; attempt++)
    await new Promise((r) => setTimeout(r, 25));
  expect(Object.fromEntries(orders.statuses)).toEqual({ 1: 'shipped', 2: 'paid' });
  await app.close(); // ends the subscription: the next message stays on the stream
  await producer.send(stream, { orderId: 3, status: 'paid' });
  expect(orders.statuses.has(3)).toBe(false);
  expect((await producer.receive(stream, { timeoutSeconds: 0 }))?.message).toEqual({ orderId: 3, status: 'paid' });
});
