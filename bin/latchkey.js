#!/usr/bin/env node
// The latchkey command line (built by `npm ci` through the prepare script).
// A reader that stops early (`latchkey tokens list | head`) is not an error.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (err) => {
    if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw err;
  });
}
require('../dist/src/cli/main.js')
  .run(process.argv)
  .then((code) => {
    process.exitCode = code;
  });
