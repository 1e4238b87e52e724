// Every module of save/restore and snapshots (runtime/persist/), live
// migration (runtime/migrate/) and disk moves (runtime/storage/) in the browser bundles: they write files with
// node:zlib and Buffer and talk over node:net, which a page does not have.
// Whatever the root imports from them is a function that refuses, with a
// ControlError (revived by name on the host's side), so the playground says
// it cannot save or migrate instead of failing to load.
//
// CommonJS on purpose: a bundle may import any name from a CommonJS module,
// so this one file stands in for all of theirs as they grow. esbuild's
// interop (__toESM) reads the names through the prototype, a Proxy.
function unavailable(): never {
  const e = new Error('save, restore, snapshots and migration are not available in the browser playground');
  e.name = 'ControlError';
  throw e;
}

module.exports = Object.create(new Proxy({}, { get: (_target, name) => (name === 'then' ? undefined : unavailable) }));
