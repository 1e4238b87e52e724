// QEMU-style memory sizes for `-m`: a number with an optional binary suffix
// (B, K, M, G, T; case-insensitive, an optional trailing "iB"/"B" accepted),
// and a plain number means MiB, as qemu_strtosz_MiB() reads it. Fractions are
// allowed ("1.5G") but the result must be a whole number of bytes.

/** Raised for a size string that does not parse or is out of range. */
export class SizeError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'SizeError';
  }
}

const UNITS: Record<string, number> = {
  b: 1,
  k: 2 ** 10,
  m: 2 ** 20,
  g: 2 ** 30,
  t: 2 ** 40,
};

/**
 * Parses a size such as "128M", "1G", "512" (MiB) or "4096B" into bytes.
 * `defaultUnit` is the unit of a number without suffix (QEMU's -m uses MiB).
 */
export function parseSize(text: string, defaultUnit: 'B' | 'K' | 'M' | 'G' = 'M'): number {
  const m = /^\s*(\d+(?:\.\d*)?|\.\d+)\s*(?:([bkmgt])(?:i?b)?)?\s*$/i.exec(text);
  if (!m) throw new SizeError(`invalid size '${text}' (expected e.g. 128M, 1G, or a number of MiB)`);
  const unit = UNITS[(m[2] ?? defaultUnit).toLowerCase()]!;
  const bytes = Number(m[1]) * unit;
  if (!Number.isSafeInteger(bytes)) throw new SizeError(`size '${text}' is not a whole number of bytes or is too large`);
  return bytes;
}

/** Formats a byte count the way QEMU prints sizes: the largest exact binary unit ("128M", "1G", "1536K"). */
export function formatSize(bytes: number): string {
  for (const [suffix, unit] of [['T', 2 ** 40], ['G', 2 ** 30], ['M', 2 ** 20], ['K', 2 ** 10]] as const) {
    if (bytes >= unit && bytes % unit === 0) return `${bytes / unit}${suffix}`;
  }
  return `${bytes}B`;
}
