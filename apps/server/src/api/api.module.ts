import { Module } from '@nestjs/common';
import { StoreModule } from '../store/index.js';
import { StreamsModule } from '../streams/streams.module.js';
import { StreamEventsController } from './stream-events.js';
import { StreamsController } from './streams.controller.js';

@Module({
  imports: [StreamsModule, StoreModule],
  providers: [StreamsController, StreamEventsController],
  exports: [StreamsController, StreamEventsController],
})
export class ApiModule {}
