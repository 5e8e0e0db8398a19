// Closed-loop load: each connection sends its next request as soon as the last is answered, and answers are
// counted only within a measured window that follows a warm-up.
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Starts the loops (`start(window)`), lets them warm up for `warmupSeconds`, then keeps `window.counting` true
 * for `seconds`; stops them (`window.running` false) and resolves to the counted window's length in seconds.
 */
export async function countedWindow({ warmupSeconds, seconds }, start) {
  const window = { running: true, counting: false };
  start(window);
  await sleep(warmupSeconds * 1000);
  window.counting = true;
  const started = performance.now();
  await sleep(seconds * 1000);
  window.counting = false;
  const elapsed = (performance.now() - started) / 1000;
  window.running = false;
  return elapsed;
}

/**
 * Requests on `connection` back to back while `window.running`: `nextRequest()` gives the text of the next,
 * `onAnswer(status, body)` hears each answer before the next is sent.
 */
export function requestLoop(connection, window, nextRequest, onAnswer) {
  const send = () => {
    if (window.running) connection.request(nextRequest(), answered);
  };
  const answered = (status, body) => {
    onAnswer(status, body);
    send();
  };
  send();
}
