/**
 * A NestJS application that consumes a stream through the SDK: a provider subscribes when the application
 * starts, hands each message to the application's own service, and stops (closing the client) on shutdown.
 */
import { Inject, Injectable, Module, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { IPubSub } from '@ipubsub/sdk';

export interface OrderEvent {
  orderId: number;
  status: string;
}

export const IPUBSUB_CLIENT = Symbol('IPUBSUB_CLIENT');
export const FEED_STREAM = Symbol('FEED_STREAM');

/** The application's own logic: here, the latest status of each order. */
@Injectable()
export class OrdersService {
  readonly statuses = new Map<number, string>();

  apply(event: OrderEvent): void {
    this.statuses.set(event.orderId, event.status);
  }
}

/** Runs the subscription for the application's lifetime. */
@Injectable()
export class OrderEventsConsumer implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly stop = new AbortController();
  private running: Promise<void> | undefined;

  constructor(
    @Inject(IPUBSUB_CLIENT) private readonly client: IPubSub,
    @Inject(FEED_STREAM) private readonly stream: string,
    @Inject(OrdersService) private readonly orders: OrdersService,
  ) {}

  onApplicationBootstrap(): void {
    this.running = (async () => {
      for await (const { message } of this.client.subscribe<OrderEvent>(this.stream, { signal: this.stop.signal }))
        this.orders.apply(message);
    })();
  }

  async onApplicationShutdown(): Promise<void> {
    this.stop.abort();
    await this.running;
    await this.client.close();
  }
}

@Module({})
export class FeedModule {
  static forRoot(options: { baseUrl: string; stream: string }) {
    return {
      module: FeedModule,
      providers: [
        { provide: IPUBSUB_CLIENT, useFactory: () => new IPubSub({ baseUrl: options.baseUrl }) },
        { provide: FEED_STREAM, useValue: options.stream },
        OrdersService,
        OrderEventsConsumer,
      ],
      exports: [OrdersService],
    };
  }
}
