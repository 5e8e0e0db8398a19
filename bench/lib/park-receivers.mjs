// Holds long-polling receivers open against a server, for the waiting-receivers memory figure. A separate
// process, because one process's open-file limit cannot hold 20,000 sockets beside everything else.
//   node bench/lib/park-receivers.mjs <port> <first> <connections> <receivesPerConnection> <timeoutSeconds>
// Connection k waits on streams wait-<first+k>-<j>; sources are spread over 127.0.0.2–201 so the ephemeral
// ports of one address do not run out. Prints "connected" once every receive is written, and "answered
// <status>" for any receive answered while it should still be waiting. Exits on SIGTERM, closing everything.
import { RawConnection, receiveRequest } from './raw-http.mjs';

const [port, first, connections, perConnection, timeoutSeconds] = process.argv.slice(2).map(Number);
const CONNECT_BATCH = 200;
const open = [];

for (let start = 0; start < connections; start += CONNECT_BATCH) {
  const batch = [];
  for (let k = start; k < Math.min(connections, start + CONNECT_BATCH); k++) {
    batch.push(
      RawConnection.open(port, `127.0.0.${2 + ((first + k) % 200)}`).then((connection) => {
        for (let j = 0; j < perConnection; j++) {
          connection.request(receiveRequest(`wait-${first + k}-${j}`, timeoutSeconds), (status) => {
            process.stdout.write(`answered ${status}\n`);
          });
        }
        open.push(connection);
      }),
    );
  }
  await Promise.all(batch);
}
process.stdout.write('connected\n');
process.on('SIGTERM', () => {
  for (const connection of open) connection.close();
  process.exit(0);
});
