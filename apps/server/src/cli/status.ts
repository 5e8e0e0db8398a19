import type { Command } from 'commander';
import { stripVTControlCharacters } from 'node:util';
import { DIM, GREEN, paint, RED, withConnection, YELLOW, type ConnectionOptions } from './connection.js';

interface Member {
  name: string;
  http: string;
  state: string;
  self: boolean;
}

interface ClusterView {
  cluster: string;
  ringVersion: number;
  ring: string[];
  members: Member[];
}

/** The gauges each member reports in the table, by column heading. */
const GAUGES = {
  STREAMS: 'ipubsub_active_streams',
  WAITING: 'ipubsub_waiting_clients',
  BUFFERED: 'ipubsub_buffered_bytes',
} as const;

async function getJson<T>(url: string, headers: Record<string, string>): Promise<T> {
  const res = await fetch(url, { headers, signal: AbortSignal.timeout(5_000) });
  if (!res.ok) throw new Error(`${url} answered ${res.status}: ${await res.text()}`);
  return (await res.json()) as T;
}

/** Unlabelled gauges of a member's /metrics; empty when it cannot be read (the table shows "?"). */
async function gauges(base: string, headers: Record<string, string>): Promise<Map<string, number>> {
  const values = new Map<string, number>();
  try {
    const res = await fetch(`${base}/metrics`, { headers, signal: AbortSignal.timeout(5_000) });
    if (!res.ok) return values;
    for (const line of (await res.text()).split('\n')) {
      const [name, value] = line.split(' ');
      if (name !== undefined && value !== undefined && !name.startsWith('#')) values.set(name, Number(value));
    }
  } catch {
    // unreachable member: shown as "?"
  }
  return values;
}

function bytes(value: number | undefined): string {
  if (value === undefined) return '?';
  const units = ['B', 'KiB', 'MiB', 'GiB'];
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${unit === 0 ? value : value.toFixed(1)} ${units[unit]}`;
}

/** Columns padded to their widest cell; the first row is the heading. */
function table(rows: string[][], colour: (code: number, text: string) => string): string {
  const visible = (text: string): number => stripVTControlCharacters(text).length;
  const widths = rows[0].map((_, column) => Math.max(...rows.map((row) => visible(row[column]))));
  return rows
    .map((row, index) => {
      const line = row.map((cell, column) => cell + ' '.repeat(widths[column] - visible(cell))).join('  ');
      return (index === 0 ? colour(DIM, line) : line).trimEnd();
    })
    .join('\n');
}

/** `ipubsub status`: the cluster as the given node sees it, one row per member with its streams and buffers. */
export function registerStatusCommand(program: Command): void {
  withConnection(
    program.command('status').description('members, ring and per-node streams and buffered bytes, as a table'),
  ).action(async (options: ConnectionOptions) => {
    const headers: Record<string, string> = options.token ? { authorization: `Bearer ${options.token}` } : {};
    const base = options.url.replace(/\/+$/, '');
    const view = await getJson<ClusterView>(`${base}/api/v1/cluster`, headers);
    const colour = paint(process.stdout);
    const stateColour: Record<string, number> = { alive: GREEN, suspect: YELLOW, dead: RED, left: DIM };
    const rows = [['NODE', 'STATE', 'RING', ...Object.keys(GAUGES), 'URL']];
    for (const member of view.members) {
      const values =
        member.state === 'alive' ? await gauges(member.self ? base : member.http, headers) : new Map<string, number>();
      const count = (name: string): string => (values.has(name) ? String(values.get(name)) : '?');
      rows.push([
        `${member.name}${member.self ? '*' : ''}`,
        colour(stateColour[member.state] ?? 0, member.state),
        view.ring.includes(member.name) ? 'yes' : 'no',
        count(GAUGES.STREAMS),
        count(GAUGES.WAITING),
        bytes(values.get(GAUGES.BUFFERED)),
        member.http,
      ]);
    }
    process.stdout.write(
      `cluster ${view.cluster}, ring version ${view.ringVersion}, ${view.ring.length} owning streams\n` +
        `${table(rows, colour)}\n`,
    );
  });
}
