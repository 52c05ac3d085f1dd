#!/usr/bin/env node
// The latchkey command line (built by `npm ci` through the prepare script).
require('../dist/src/cli/main.js')
  .run(process.argv)
  .then((code) => {
    process.exitCode = code;
  });
