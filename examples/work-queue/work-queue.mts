/**
 * A work queue: producers send jobs to one stream, several workers take them. Each receive takes a message
 * from memory, so every job goes to exactly one worker — competing consumers, no broker configuration. Workers
 * stop when their AbortSignal aborts (a shutdown, a deploy).
 */
import { IPubSub } from '@ipubsub/sdk';

export interface Job {
  id: number;
  payload: string;
}

/**
 * Starts `count` workers on `stream`; each handles one job at a time until `signal` aborts, then the returned
 * promise resolves with what each worker did.
 */
export async function startWorkers(
  baseUrl: string,
  stream: string,
  count: number,
  handle: (job: Job, worker: string) => Promise<void>,
  signal: AbortSignal,
): Promise<Map<string, number[]>> {
  await using client = new IPubSub({ baseUrl });
  const done = new Map<string, number[]>();
  const worker = async (name: string): Promise<void> => {
    done.set(name, []);
    // A subscription long-polls; each message it yields has been taken from the stream by this worker alone.
    for await (const { message } of client.subscribe<Job>(stream, { timeoutSeconds: 5, signal })) {
      await handle(message, name);
      done.get(name)!.push(message.id);
    }
  };
  await Promise.all(Array.from({ length: count }, (_, i) => worker(`worker-${i + 1}`)));
  return done;
}

/** Sends the jobs in order; each send is answered once the node holds the job. */
export async function enqueue(baseUrl: string, stream: string, jobs: Job[]): Promise<void> {
  await using client = new IPubSub({ baseUrl });
  for (const job of jobs)
    await client.send<Job>(stream, job, { messageUuid: `job-${job.id}`, inMemoryStreamSize: 10_000 });
}
