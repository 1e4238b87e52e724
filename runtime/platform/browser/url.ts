// node:url in the browser bundles: runtime/host/paths.ts locates the
// package from its module URL, which in a page is http:, never a file.
export function fileURLToPath(url: string | URL): string {
  const u = new URL(url);
  if (u.protocol !== 'file:') throw new TypeError(`not a file URL: ${u.href} (the browser host has no package files)`);
  return decodeURIComponent(u.pathname);
}
