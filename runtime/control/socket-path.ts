// Where a control socket lives: a Unix domain socket file, readable and
// writable by its owner only (the channel can stop, save and migrate every
// guest of the host). A stale socket left by a host that died is replaced;
// a live one, or a file that is not a socket, is left alone and refused.
// On Windows the path is a named pipe (\\.\pipe\NAME): none of this applies.
import { chmodSync, lstatSync, unlinkSync } from 'node:fs';
import { connect, type Server } from 'node:net';
import { InputError } from '../errors.ts';

const windows = process.platform === 'win32';

/**
 * The longest socket path the kernel takes: sockaddr_un's sun_path less its
 * NUL (108 bytes on Linux, 104 on the BSDs and macOS). Node does not check:
 * a longer path is cut short and the socket appears elsewhere.
 */
const MAX_PATH_BYTES = process.platform === 'linux' ? 107 : 103;

/** Frees `path` for a new socket, or throws InputError saying why not. */
export async function claimSocketPath(path: string): Promise<void> {
  if (windows) return;
  if (Buffer.byteLength(path) > MAX_PATH_BYTES) {
    throw new InputError(`control socket '${path}': a Unix socket's path is at most ${MAX_PATH_BYTES} bytes (this one has ${Buffer.byteLength(path)})`);
  }
  let st;
  try {
    st = lstatSync(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw new InputError(`control socket '${path}': ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  if (!st.isSocket()) throw new InputError(`control socket '${path}': the path exists and is not a socket`);
  if (await answers(path)) throw new InputError(`control socket '${path}': another host is listening on it`);
  unlinkSync(path); // stale: nobody listens
}

/** Whether something accepts connections on the socket at `path`. */
function answers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(path);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/**
 * Listens on `path` with permissions 0600. The umask covers the bind,
 * which listen() does before it returns (no window in which others could
 * connect), and is restored at once: it is the whole process's. The chmod
 * covers a thread where umask cannot be set (Node workers).
 */
export async function listenPrivate(server: Server, path: string): Promise<void> {
  const listening = new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.once('listening', () => {
      server.off('error', reject);
      resolve();
    });
  });
  let old: number | undefined;
  try {
    if (!windows) old = process.umask(0o177);
  } catch {
    old = undefined; // a worker thread
  }
  try {
    server.listen(path);
  } finally {
    if (old !== undefined) process.umask(old);
  }
  try {
    await listening;
  } catch (e) {
    throw new InputError(`control socket '${path}': cannot listen: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, { cause: e });
  }
  if (windows) return;
  try {
    chmodSync(path, 0o600);
  } catch (e) {
    server.close();
    throw new InputError(`control socket '${path}': cannot make it private: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, { cause: e });
  }
}

/** Removes the socket file if it is still a socket (never another file put there since). */
export function releaseSocketPath(path: string): void {
  if (windows) return;
  try {
    if (lstatSync(path).isSocket()) unlinkSync(path);
  } catch {
    // gone already
  }
}
