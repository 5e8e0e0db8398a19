import { afterEach, expect, it } from 'vitest';
import { uniqueStreamId } from './support/api-helpers.js';
import { ServerProcess } from './support/server.js';

/** log.format and log.requests, seen in what a real node writes to its stdout (a pipe here, not a terminal). */

let server: ServerProcess | undefined;
afterEach(async () => {
  await server?.stop();
  server = undefined;
});

const lines = (text: string): string[] => text.split('\n').filter((line) => line.trim() !== '');

/** Waits until the node's output has a line that passes `test` (logs are written after the answer is sent). */
async function waitForLine(node: ServerProcess, test: (line: string) => boolean): Promise<string> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const found = lines(node.log).find(test);
    if (found !== undefined) return found;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`no such line in:\n${node.log}`);
}

it('writes one JSON object per line when format is auto and stdout is not a terminal, without an access log', async () => {
  server = await ServerProcess.start({ env: { IPUBSUB_LOG_LEVEL: 'info' } });
  expect((await server.send({ streamId: uniqueStreamId('log'), messageUuid: 'm-1', message: 1 })).status).toBe(200);
  const listening = await waitForLine(server, (line) => line.includes('iPubSub node listening'));
  for (const line of lines(server.log)) expect(() => JSON.parse(line), line).not.toThrow();
  expect(JSON.parse(listening)).toMatchObject({ level: 30, node: 'node-1', msg: 'iPubSub node listening' });
  expect(server.log).not.toContain('"msg":"request"');
});

it('writes readable lines without colours when format is pretty and stdout is not a terminal', async () => {
  server = await ServerProcess.start({ env: { IPUBSUB_LOG_LEVEL: 'info', IPUBSUB_LOG_FORMAT: 'pretty' } });
  const listening = await waitForLine(server, (line) => line.includes('iPubSub node listening'));
  expect(listening).toMatch(/^\[\d\d:\d\d:\d\d\.\d{3}\] INFO: \[node-1\] iPubSub node listening$/);
  expect(() => JSON.parse(listening)).toThrow();
  expect(server.log).not.toContain('\u001b[');
});

it('logs every answered request, with method, path, status and duration, when log.requests is on', async () => {
  server = await ServerProcess.start({ env: { IPUBSUB_LOG_LEVEL: 'info', IPUBSUB_LOG_REQUESTS: 'true' } });
  const streamId = uniqueStreamId('access');
  expect((await server.send({ streamId, messageUuid: 'm-1', message: 'hello' })).status).toBe(200);
  expect((await server.receive({ streamId: 'nothing-here', timeoutSeconds: 0 })).status).toBe(424);
  const isRequest = (method: string, path: string) => (line: string) =>
    line.includes('"msg":"request"') && line.includes(`"method":"${method}"`) && line.includes(`"url":"${path}`);
  const send = JSON.parse(await waitForLine(server, isRequest('POST', '/api/v1/streams/send')));
  expect(send).toMatchObject({ level: 30, status: 200, remote: '127.0.0.1' });
  expect(send.ms).toBeGreaterThanOrEqual(0);
  const receive = JSON.parse(await waitForLine(server, isRequest('GET', '/api/v1/streams/receive')));
  expect(receive).toMatchObject({ status: 424, url: '/api/v1/streams/receive?streamId=nothing-here&timeoutSeconds=0' });
  expect(JSON.parse(await waitForLine(server, isRequest('GET', '/ready')))).toMatchObject({ status: 200 });
});
