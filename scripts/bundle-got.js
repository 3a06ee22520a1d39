#!/usr/bin/env node
/*
 * Bundles got (the API client's HTTP layer) and all its dependencies, unchanged, into one CommonJS file,
 * <outDir>/vendor/got.cjs, with the licenses of everything inside it beside it (got.LICENSES.txt).
 * Run by `npm run build`:
 *   node scripts/bundle-got.js [outDir]     # outDir defaults to dist
 *
 * Why: got's ESM graph is about 100 files, which Node resolves, reads and compiles one by one (Node 20 has no
 * module compile cache); one file of the same code loads in a fraction of that. Nothing is left out or patched:
 * what the bundle does is what got does.
 */
import {readdirSync, readFileSync, writeFileSync} from 'node:fs'
import {dirname, join, resolve} from 'node:path'
import {fileURLToPath} from 'node:url'

import {build} from 'esbuild'

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..')
const outDir = resolve(root, process.argv[2] ?? 'dist')
const outfile = join(outDir, 'vendor', 'got.cjs')

const result = await build({
  entryPoints: [join(root, 'node_modules', 'got', 'dist', 'source', 'index.js')],
  outfile,
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  legalComments: 'eof',
  // Whitespace only: names stay as got wrote them (its messages and checks read constructor names).
  minifyWhitespace: true,
  metafile: true,
  logLevel: 'warning',
})

// The licenses of every package in the bundle, since the bundle replaces their files.
const packages = new Map()
for (const input of Object.keys(result.metafile.inputs)) {
  const match = /^(.*node_modules[\\/](?:@[^\\/]+[\\/])?[^\\/]+)[\\/]/.exec(input)
  if (!match) continue
  const dir = resolve(root, match[1])
  if (packages.has(dir)) continue
  const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'))
  const licenseFile = readdirSync(dir).find((name) => /^(licen[cs]e|copying)(\.|$)/i.test(name))
  packages.set(dir, {
    pkg,
    text: licenseFile ? readFileSync(join(dir, licenseFile), 'utf8').trim() : `License: ${pkg.license}`,
  })
}

const notices = [...packages.values()]
  .sort((a, b) => a.pkg.name.localeCompare(b.pkg.name))
  .map(({pkg, text}) => `${pkg.name}@${pkg.version} (${pkg.license})\n\n${text}\n`)
writeFileSync(
  join(dirname(outfile), 'got.LICENSES.txt'),
  `vendor/got.cjs bundles these packages:\n\n${notices.join('\n' + '-'.repeat(72) + '\n\n')}`,
)
