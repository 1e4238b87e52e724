// The control channel's wire format (docs/control.md), as QEMU's QMP: one
// JSON object per line, both ways, over a Unix domain socket.
//
//   host -> client, on connect   {"greeting":{"protocol":"hv-control","version":1,...}}
//   client -> host               {"id":1,"execute":"kvp-read","arguments":{"partition":1}}
//   host -> client               {"id":1,"return":{...}}  or  {"id":1,"error":{"class":"...","desc":"..."}}
//   host -> client, any time     {"event":"partition-stopped","data":{...},"timestamp":{...}}
//
// Lines are capped (MAX_REQUEST_BYTES): a client cannot make the host buffer
// without end. What a line says is validated by the command table (commands.ts).

export const PROTOCOL = 'hv-control';
export const PROTOCOL_VERSION = 1;

/** The longest request line the host reads (a KVP value is at most 2 KiB, a path 4 KiB). */
export const MAX_REQUEST_BYTES = 64 * 1024;
/** The longest reply or event line a client reads (stats of a partition with many vCPUs). */
export const MAX_REPLY_BYTES = 16 * 1024 * 1024;

/**
 * Why a request failed, as the `class` of an error reply. Scripts switch on
 * these; `desc` is for people.
 */
export const ERROR_CLASSES = [
  'BadRequest', // not JSON, not an object, no "execute"
  'LineTooLong', // a line past MAX_REQUEST_BYTES (skipped to its newline)
  'CommandNotFound',
  'InvalidArgument', // a missing, unknown or mistyped argument
  'PartitionNotFound',
  'Refused', // the host said no: wrong state, IC not ready, guest refused (ControlError)
  'InputError', // a file the host cannot open or read
  'MigrationFailed', // the guest runs on here
  'Busy', // too many clients, or too many requests queued on one
  'InternalError', // a bug in hv: its message
] as const;
export type ErrorClass = (typeof ERROR_CLASSES)[number];

/** Asynchronous events every connected client receives. */
export const EVENTS = [
  'partition-added', // a partition appeared (created, restored, reverted, migrated in)
  'partition-paused', // through this channel
  'partition-resumed',
  'partition-stopped', // it finished: data.result says how (exit, off, timeout, saved, ...)
  'partition-migrated', // it finished by moving to another host
  'guest-shutdown', // the guest accepted a graceful shutdown or restart (data.reboot)
  'host-shutdown', // the host is going away; the socket closes after this line
] as const;
export type EventName = (typeof EVENTS)[number];

/** A request id: whatever the client sent, echoed back. */
export type RequestId = string | number;

export interface Greeting {
  greeting: {
    protocol: typeof PROTOCOL;
    version: number;
    /** Which command serves: 'run' or 'serve'. */
    host: string;
    pid: number;
    /** The capabilities: every command and event name this host knows. */
    commands: string[];
    events: readonly string[];
  };
}

export interface Request {
  id?: RequestId;
  execute: string;
  arguments?: Record<string, unknown>;
}

export interface ErrorBody {
  class: ErrorClass;
  desc: string;
}

export type Reply = { id?: RequestId; return: unknown } | { id?: RequestId; error: ErrorBody };

export interface EventMessage {
  event: EventName;
  data: Record<string, unknown>;
  /** Wall clock when it happened, as QMP's. */
  timestamp: { seconds: number; microseconds: number };
}

/** A request the host answers with an error reply of class `errorClass`. */
export class ControlRequestError extends Error {
  constructor(
    readonly errorClass: ErrorClass,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'ControlRequestError';
  }
}

/** A message as one line: BigInts (none today, but a counter may become one) as numbers. */
export function encodeLine(message: unknown): string {
  return JSON.stringify(message, (_, v: unknown) => (typeof v === 'bigint' ? Number(v) : v)) + '\n';
}

/**
 * Splits a byte stream into lines of at most `max` bytes (without the
 * newline; a trailing CR is dropped). A longer line is reported once through
 * `onOverflow` and skipped up to its newline: the stream stays in step.
 */
export class LineReader {
  private parts: Buffer[] = [];
  private size = 0;
  private skipping = false;

  constructor(
    private readonly max: number,
    private readonly onLine: (line: string) => void,
    private readonly onOverflow: () => void,
  ) {}

  push(chunk: Buffer): void {
    let start = 0;
    for (;;) {
      const nl = chunk.indexOf(0x0a, start);
      const end = nl < 0 ? chunk.length : nl;
      if (!this.skipping) {
        if (this.size + (end - start) > this.max) {
          this.skipping = true;
          this.parts = [];
          this.size = 0;
          this.onOverflow();
        } else if (end > start) {
          this.parts.push(chunk.subarray(start, end));
          this.size += end - start;
        }
      }
      if (nl < 0) return;
      if (!this.skipping) {
        const line = Buffer.concat(this.parts).toString('utf8').replace(/\r$/, '');
        this.parts = [];
        this.size = 0;
        if (line.trim() !== '') this.onLine(line);
      }
      this.skipping = false;
      start = nl + 1;
    }
  }
}
