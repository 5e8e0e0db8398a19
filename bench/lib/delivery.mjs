// Delivery figures against one node or several: senders and long-polling receivers may enter through
// different nodes (by port), so the same measurement gives a single node's figure and a cluster's.
import { setTimeout as sleep } from 'node:timers/promises';
import { RawConnection, receiveRequest, sendRequest } from './raw-http.mjs';
import { countedWindow, requestLoop } from './request-loops.mjs';

/** Long polls in these figures never wait this long; it only bounds a stuck run. */
const RECEIVE_TIMEOUT_SECONDS = 10;

/**
 * `streams` streams, each with a sender sending back to back through `senderPort(i)` and a receiver
 * long-polling back to back through `receiverPort(i)`, each on its own keep-alive connection. Counts what is
 * delivered during `seconds` after `warmupSeconds`; `during(seconds)` wraps the counted window (CPU probes).
 */
export async function measureDelivery({
  streams,
  senderPort,
  receiverPort,
  payload,
  warmupSeconds,
  seconds,
  label = 'deliver',
}) {
  const connections = await Promise.all(
    Array.from({ length: streams }, (_, i) =>
      Promise.all([RawConnection.open(senderPort(i)), RawConnection.open(receiverPort(i))]),
    ),
  );
  let sent = 0;
  let delivered = 0;
  let failed = 0;
  const elapsed = await countedWindow({ warmupSeconds, seconds }, (window) => {
    connections.forEach(([sender, receiver], i) => {
      const streamId = `${label}-${i}`;
      const receiveText = receiveRequest(streamId, RECEIVE_TIMEOUT_SECONDS);
      let n = 0;
      requestLoop(
        receiver,
        window,
        () => receiveText,
        (status) => {
          if (status === 200) {
            if (window.counting) delivered++;
          } else if (status !== 424) failed++;
        },
      );
      requestLoop(
        sender,
        window,
        () => sendRequest(`{"streamId":"${streamId}","messageUuid":"m${++n}","message":${payload}}`),
        (status) => {
          if (status !== 200) failed++;
          else if (window.counting) sent++;
        },
      );
    });
  });
  for (const pair of connections) for (const connection of pair) connection.close();
  return { deliveredPerSecond: delivered / elapsed, sentPerSecond: sent / elapsed, failed };
}

/**
 * One receiver parked on `streamId` through `receiverPort`, then one send through `senderPort`; the time from
 * writing the send to reading the receiver's answer, `samples` times one at a time after `warmup` more.
 */
export async function measureLatency({ streamId, senderPort, receiverPort, payload, samples, warmup, parkMs = 2 }) {
  const [sender, receiver] = await Promise.all([RawConnection.open(senderPort), RawConnection.open(receiverPort)]);
  const receiveText = receiveRequest(streamId, RECEIVE_TIMEOUT_SECONDS);
  const taken = [];
  let failed = 0;
  for (let i = 0; i < samples + warmup; i++) {
    const woken = new Promise((resolve) =>
      receiver.request(receiveText, (status) => resolve([status, performance.now()])),
    );
    await sleep(parkMs); // the receive is parked by now (through a forwarding node too)
    const accepted = new Promise((resolve) => {
      const startedAt = performance.now();
      sender.request(sendRequest(`{"streamId":"${streamId}","messageUuid":"m${i}","message":${payload}}`), (status) =>
        resolve([status, startedAt]),
      );
    });
    const [[receiveStatus, wokenAt], [sendStatus, sentAt]] = await Promise.all([woken, accepted]);
    if (receiveStatus !== 200 || sendStatus !== 200) failed++;
    else if (i >= warmup) taken.push(wokenAt - sentAt);
  }
  sender.close();
  receiver.close();
  taken.sort((a, b) => a - b);
  const at = (p) => taken[Math.min(taken.length - 1, Math.ceil(p * taken.length) - 1)];
  return { p50Ms: at(0.5), p99Ms: at(0.99), maxMs: taken[taken.length - 1], failed };
}
