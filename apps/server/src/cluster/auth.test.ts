import { afterEach, describe, expect, it } from 'vitest';
import { ClusterAuth } from './auth.js';
import type { SwimMessage } from './membership/types.js';
import { UdpTransport } from './membership/udp-transport.js';

const PING: SwimMessage = { type: 'ping', cluster: 'c', from: 'a', seq: 1, updates: [] };

describe('gossip datagrams', () => {
  const transports: UdpTransport[] = [];
  afterEach(() => {
    for (const transport of transports.splice(0)) transport.close();
  });

  function transport(secret: string): UdpTransport {
    const created = new UdpTransport(new ClusterAuth(secret), {
      message: () => undefined,
      rejected: () => undefined,
      rejectedBy: () => undefined,
    });
    transports.push(created);
    return created;
  }

  it('round-trips a signed message and refuses tampering, another secret and unsigned datagrams', () => {
    const signer = transport('s3cret');
    const datagram = signer.encode(PING);
    expect(signer.decode(datagram)).toEqual(PING);

    const tampered = Buffer.from(datagram);
    tampered[tampered.length - 3] ^= 1;
    expect(signer.decode(tampered)).toMatch(/another cluster.secret/);
    expect(transport('other').decode(datagram)).toMatch(/another cluster.secret/);
    expect(signer.decode(transport('').encode(PING))).toMatch(/unsigned gossip/);
    expect(transport('').decode(datagram)).toMatch(/signed gossip, but this node has no cluster.secret/);
    expect(transport('').decode(Buffer.from('\u0001{not json'))).toMatch(/malformed/);
  });

  it('refuses a datagram that is JSON but not a gossip message, which would throw inside the state machine', () => {
    const open = transport('');
    const unsigned = (body: string) => Buffer.concat([Buffer.of(1), Buffer.from(body)]);
    const envelope = '"cluster":"c","from":"a"';
    for (const body of [
      `{"type":"ping",${envelope},"seq":1}`,
      `{"type":"sync",${envelope},"members":5,"wantReply":true}`,
      `{"type":"ack",${envelope},"seq":1,"updates":[{"name":"b","gossip":"h:1","http":"http://h","state":"gone","incarnation":0}]}`,
      `{"type":"ping-req",${envelope},"seq":1,"updates":[]}`,
      `{"type":"hello",${envelope}}`,
      '[1,2]',
    ])
      expect(open.decode(unsigned(body))).toBe('not a gossip message');
    const sync = { type: 'sync' as const, cluster: 'c', from: 'a', members: [], wantReply: true, newerField: 1 };
    expect(open.decode(open.encode(sync))).toEqual(sync);
  });

  it('carries messages between two real sockets on loopback', async () => {
    let deliver: (value: [string, SwimMessage]) => void = () => undefined;
    const received = new Promise<[string, SwimMessage]>((resolve) => (deliver = resolve));
    const receiver = new UdpTransport(new ClusterAuth('k'), {
      message: (from, m) => deliver([from, m]),
      rejected: () => undefined,
      rejectedBy: () => undefined,
    });
    transports.push(receiver);
    const port = await receiver.bind('127.0.0.1', 0);
    const sender = transport('k');
    const senderPort = await sender.bind('127.0.0.1', 0);
    sender.send(`127.0.0.1:${port}`, PING);
    expect(await received).toEqual([`127.0.0.1:${senderPort}`, PING]);
  });

  it('tells a node whose datagrams it refuses why, so that the node can report it', async () => {
    const receiver = transport('k');
    const port = await receiver.bind('127.0.0.1', 0);
    let notice: (reason: string) => void = () => undefined;
    const refused = new Promise<string>((resolve) => (notice = resolve));
    const stranger = new UdpTransport(new ClusterAuth('not-k'), {
      message: () => undefined,
      rejected: () => undefined,
      rejectedBy: (_from, reason) => notice(reason),
    });
    transports.push(stranger);
    await stranger.bind('127.0.0.1', 0);
    stranger.send(`127.0.0.1:${port}`, PING);
    expect(await refused).toMatch(/another cluster.secret/);
  });
});

describe('node-to-node HTTP requests', () => {
  const auth = new ClusterAuth('s3cret');

  it('accepts its own signature and refuses any change', () => {
    const header = auth.signRequest('POST', '/internal/v1/cluster/adopt', 1, '{"a":1}', 1_000_000);
    expect(auth.verifyRequest(header, 'POST', '/internal/v1/cluster/adopt', 1, '{"a":1}', 1_000_500)).toBeNull();
    expect(auth.verifyRequest(header, 'POST', '/internal/v1/cluster/adopt', 1, '{"a":2}', 1_000_500)).toMatch(
      /mismatch/,
    );
    expect(auth.verifyRequest(header, 'POST', '/internal/v1/cluster/pull', 1, '{"a":1}', 1_000_500)).toMatch(
      /mismatch/,
    );
    expect(auth.verifyRequest(header, 'POST', '/internal/v1/cluster/adopt', 2, '{"a":1}', 1_000_500)).toMatch(
      /mismatch/,
    );
    expect(
      new ClusterAuth('other').verifyRequest(header, 'POST', '/internal/v1/cluster/adopt', 1, '{"a":1}', 1_000_500),
    ).toMatch(/mismatch/);
  });

  it('refuses a missing, malformed or stale signature', () => {
    expect(auth.verifyRequest(undefined, 'GET', '/x', 1)).toMatch(/missing/);
    expect(auth.verifyRequest('nonsense', 'GET', '/x', 1)).toMatch(/malformed/);
    const old = auth.signRequest('GET', '/x', 1, '', 1_000_000);
    expect(auth.verifyRequest(old, 'GET', '/x', 1, '', 1_000_000 + 31_000)).toMatch(/too old/);
  });
});
