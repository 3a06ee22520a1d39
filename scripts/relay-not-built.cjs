#!/usr/bin/env node
// Run by the install script when node-gyp-build found no prebuilt relay that loads and could not build one.
// npm hides the output of install scripts that succeed, and this install must succeed (the relay is optional),
// so the message goes to the terminal itself when there is one, and to stderr (npm's log) in any case.
'use strict'
const fs = require('node:fs')

const message = [
  `scalingo-tcp: the native relay was not built (no prebuilt relay for ${process.platform}-${process.arch}, and no C toolchain to build it).`,
  'tcp:proxy works the same on its JavaScript transport, with more CPU per connection under load.',
  'For the native one: install a C toolchain (Debian/Ubuntu: apt-get install build-essential python3),',
  'then run `npm rebuild -g scalingo-tcp` (or `npm rebuild scalingo-tcp` in a project).',
].join('\n')

process.stderr.write(`${message}\n`)
try {
  const tty = fs.openSync('/dev/tty', 'w')
  fs.writeSync(tty, `${message}\n`)
  fs.closeSync(tty)
} catch {
  // No controlling terminal (CI, a pipe): stderr above is all there is, and the gateway's first line says it too.
}
