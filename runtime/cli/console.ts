// Host stdin to the guest's UART. On a TTY the terminal goes raw so keys
// reach the guest unchanged; Ctrl-A x quits, as in QEMU's -nographic, and
// Ctrl-A s saves the guest (hv run --save FILE), Ctrl-A n takes a live
// snapshot (hv run --snapshot-dir DIR), Ctrl-A g asks the guest to shut
// down gracefully (its shutdown integration component, -device hv-ic).
/**
 * Sends stdin to `input` (a partition's console) until the returned function
 * is called. Ctrl-A x calls `quit` (which must end the process, after closing
 * what needs closing: disks flush on close).
 */
export function attachConsole(
  input: (bytes: Uint8Array) => void,
  quit: () => void = () => process.exit(0),
  save?: () => void,
  snapshot?: () => void,
  shutdown?: () => void,
): () => void {
  const stdin = process.stdin;
  const tty = stdin.isTTY === true;
  let escape = false;
  const onData = (chunk: Buffer) => {
    if (tty) {
      for (const b of chunk) {
        if (escape) {
          escape = false;
          if (b === 0x78 /* x */) {
            process.stderr.write('\nhv: terminated by Ctrl-A x\n');
            quit();
            return;
          }
          if (b === 0x73 /* s */ && save) {
            save();
            continue;
          }
          if (b === 0x6e /* n */ && snapshot) {
            snapshot();
            continue;
          }
          if (b === 0x67 /* g */ && shutdown) {
            shutdown();
            continue;
          }
          if (b !== 0x01) input(Uint8Array.of(0x01));
        } else if (b === 0x01) {
          escape = true;
          continue;
        }
        input(Uint8Array.of(b));
      }
    } else {
      input(chunk);
    }
  };
  if (tty) stdin.setRawMode(true);
  stdin.on('data', onData);
  stdin.on('error', () => {});
  return () => {
    stdin.off('data', onData);
    if (tty) stdin.setRawMode(false);
    stdin.pause();
    (stdin as { unref?: () => void }).unref?.();
  };
}
