import { afterAll, beforeAll, expect, it } from 'vitest';
import { ServerProcess } from '../../e2e/support/server.ts';
import { enqueue, startWorkers, type Job } from './work-queue.mts';

let server: ServerProcess;
beforeAll(async () => {
  server = await ServerProcess.start();
});
afterAll(() => server.stop());

it('hands every job to exactly one of three workers, and the workers stop when their signal aborts', async () => {
  const stream = `jobs-${Date.now()}`;
  const jobs: Job[] = Array.from({ length: 60 }, (_, id) => ({ id, payload: `job ${id}` }));
  const stop = new AbortController();
  const handled: number[] = [];
  const workers = startWorkers(
    server.url,
    stream,
    3,
    async (job) => {
      handled.push(job.id);
      await new Promise((r) => setTimeout(r, 5)); // some work, so that the others take jobs meanwhile
      if (handled.length === jobs.length) stop.abort();
    },
    stop.signal,
  );
  await enqueue(server.url, stream, jobs);
  const done = await workers;
  expect([...handled].sort((a, b) => a - b)).toEqual(jobs.map((job) => job.id));
  expect([...done.values()].flat().length).toBe(jobs.length);
  expect([...done.values()].filter((ids) => ids.length > 0).length).toBeGreaterThan(1);
});
