import { Module } from '@nestjs/common';
import { StreamsModule } from '../streams/streams.module.js';
import { ShutdownState } from './shutdown-state.js';
import { StreamsController } from './streams.controller.js';

@Module({
  imports: [StreamsModule],
  controllers: [StreamsController],
  providers: [ShutdownState],
  exports: [ShutdownState],
})
export class ApiModule {}
