/**
 * What a browser bundle gets for `kexue/node` (package.json exports, "browser" condition): a clear error
 * instead of dozens of unresolvable Node built-ins.
 */
throw new Error(
  "kexue/node is for Node.js (files on disk, the native backend, the CLI); in the browser import 'kexue' and load models with loadEncoderFrom(url)",
);
