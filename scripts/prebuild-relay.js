#!/usr/bin/env node
/*
 * Builds the prebuilt relay the package ships (prebuilds/<platform>-<arch>/scalingo-tcp[.glibc].node) with
 * prebuildify, for the platform this machine is: N-API, so one file serves every Node line. Run by `prepack`,
 * so `npm pack` and `npm publish` carry it; node-gyp-build then finds it at install (no compiler needed) and at
 * run time (src/lib/gateway/native-transport.ts). The build happens in a copy of the sources so that the
 * working tree's own build/Release/relay.node is left as it is.
 *   npm run build:prebuilt   # through npm, which passes its node-gyp settings (nodedir...) and puts node-gyp on PATH
 */
import {execFileSync} from 'node:child_process'
import {cpSync, mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {dirname, join, resolve} from 'node:path'
import {fileURLToPath} from 'node:url'

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..')
const work = mkdtempSync(join(tmpdir(), 'scalingo-tcp-prebuild-'))
try {
  for (const entry of ['package.json', 'binding.gyp', 'native'])
    cpSync(join(root, entry), join(work, entry), {recursive: true})
  const prebuildify = join(root, 'node_modules', '.bin', 'prebuildify')
  // --target: this Node's headers (the ones npm's node-gyp settings point at) rather than a download of the latest.
  const target = `node@${process.versions.node}`
  execFileSync(prebuildify, ['--napi', '--strip', '--tag-libc', '--target', target, '--out', root, work], {
    stdio: ['ignore', 'ignore', 'inherit'],
  })
} finally {
  rmSync(work, {recursive: true, force: true})
}
