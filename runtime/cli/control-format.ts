// What `hv control` prints for people (--json prints the reply as is): a
// list of records as a table, a record as "key  value" lines (nested
// fields dotted), with a view of their own for the few replies a table of
// raw fields would not read well.
import type { ChannelStatus, KvpPools, PartitionInfo } from '../host/controller.ts';
import type { EventMessage } from '../control/protocol.ts';

type Row = Record<string, unknown>;

/** Replies shown as rows other than their raw fields. */
const VIEWS: Record<string, (value: unknown) => Row[]> = {
  list: (v) =>
    (v as PartitionInfo[]).map((p) => ({
      id: p.id, name: p.name, state: p.state, vcpus: p.vcpus, memory: `${p.memory / 2 ** 20}M`, paging: p.paging, boot: p.boot,
      instructions: p.instructions, result: p.result ? resultText(p.result) : '',
    })),
  channels: (v) =>
    (v as ChannelStatus[]).map((c) => ({
      relid: c.relid, device: c.device, state: c.state,
      'ring in': c.ringBytes ? `${c.inBytes}/${c.ringBytes.in} B` : '', 'ring out': c.ringBytes ? `${c.outBytes}/${c.ringBytes.out} B` : '',
    })),
  'kvp-read': (v) =>
    Object.entries(v as KvpPools).flatMap(([pool, keys]) => Object.entries(keys).map(([key, value]) => ({ pool, key, value }))),
  commands: (v) =>
    (v as { name: string; help: string; args: { name: string }[]; options: { name: string; type: string }[] }[]).map((c) => ({
      command: c.name,
      arguments: [...c.args.map((a) => a.name.toUpperCase()), ...c.options.map((o) => `[--${kebab(o.name)}${o.type === 'boolean' ? '' : ' X'}]`)].join(' '),
      help: c.help,
    })),
};

/** A reply for people; '' for a command that returns nothing. */
export function formatReply(command: string, value: unknown): string {
  const view = VIEWS[command];
  if (view) return table(view(value));
  if (Array.isArray(value)) return value.length && value.every(isRecord) ? table(value.map((r) => flatten(r))) : value.map(String).join('\n') + (value.length ? '\n' : '');
  if (isRecord(value)) {
    // Scalar fields as "key  value" lines; lists of records (a partition's vCPUs, its channels) as tables after them.
    const fields = Object.entries(flatten(value));
    const tables = fields.filter(([, v]) => Array.isArray(v) && v.length > 0 && v.every(isRecord)) as [string, Row[]][];
    const lines = fields.filter((f) => !tables.includes(f as [string, Row[]]));
    const width = Math.max(0, ...lines.map(([k]) => k.length));
    const head = lines.map(([k, v]) => `${k.padEnd(width)}  ${cell(v)}\n`).join('');
    return head + tables.map(([k, rows]) => `\n${k}:\n${table(rows.map((r) => flatten(r)))}`).join('');
  }
  return `${String(value)}\n`;
}

/** An event on one line: its time, name and fields. */
export function formatEvent(e: EventMessage): string {
  const t = new Date(e.timestamp.seconds * 1000 + e.timestamp.microseconds / 1000).toISOString().slice(11, 23);
  const data = Object.entries(e.data).map(([k, v]) => `${k}=${k === 'result' ? resultText(v as { kind: string }) : cell(v)}`);
  return `${t} ${e.event}${data.length ? ' ' + data.join(' ') : ''}\n`;
}

/** maxDowntimeMs -> max-downtime-ms: an option's name on the command line. */
export function kebab(name: string): string {
  return name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

function resultText(r: { kind: string; code?: number }): string {
  return r.code === undefined ? r.kind : `${r.kind} ${r.code}`;
}

const isRecord = (v: unknown): v is Row => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Nested records' fields as dotted keys ({a:{b:1}} -> {'a.b': 1}); arrays stay values. */
function flatten(r: Row, prefix = ''): Row {
  const out: Row = {};
  for (const [k, v] of Object.entries(r)) {
    if (isRecord(v) && Object.keys(v).length) Object.assign(out, flatten(v, `${prefix}${k}.`));
    else out[`${prefix}${k}`] = v;
  }
  return out;
}

function cell(v: unknown): string {
  if (v === undefined || v === null) return '';
  return typeof v === 'object' ? JSON.stringify(v) : String(v);
}

/** Rows as columns under a header, each as wide as its widest cell. */
function table(rows: Row[]): string {
  if (!rows.length) return '';
  const columns = [...new Set(rows.flatMap((r) => Object.keys(r)))];
  const cells = [columns, ...rows.map((r) => columns.map((c) => cell(r[c])))];
  const widths = columns.map((_, i) => Math.max(...cells.map((row) => row[i]!.length)));
  return cells.map((row) => row.map((c, i) => (i === row.length - 1 ? c : c.padEnd(widths[i]!))).join('  ').trimEnd() + '\n').join('');
}
