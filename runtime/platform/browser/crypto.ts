// node:crypto in the browser bundles: random bytes (VHD unique ids).
export function randomBytes(n: number): Uint8Array {
  return crypto.getRandomValues(new Uint8Array(n));
}
