import { Global, Module } from '@nestjs/common';
import { InferenceQueues } from './inference-queues.js';

@Global()
@Module({ providers: [InferenceQueues], exports: [InferenceQueues] })
export class QueueModule {}
