#!/usr/bin/env node
// The `kexue` command; the code lives in dist/ (built by `npm run build`).
import { main } from '../dist/cli/main.js';

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e) => {
    process.stderr.write(`kexue: internal error: ${e && e.message ? e.message : String(e)}\n`);
    process.exitCode = 1;
  },
);
