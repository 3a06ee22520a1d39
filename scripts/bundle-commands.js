#!/usr/bin/env node
/*
 * Bundles each compiled command (<outDir>/commands/**.js) with the modules of this package it imports into one
 * ESM file written over it, so oclif's manifest still points at the same paths. Packages (@oclif/core, got's
 * bundle loader excepted, chalk, ora...) stay external imports; <outDir>/lib is left as tsc wrote it.
 *   node scripts/bundle-commands.js [outDir]     # outDir defaults to dist; run after tsc, before `oclif manifest`
 *
 * Why: Node 20 resolves, reads and compiles an ESM graph file by file, about 0.25 ms per file; `env` alone
 * imports some twenty of ours, and its start-up is what a user feels on every call (bench/startup.sh).
 *
 * What keeps this safe:
 * - Module state (registered secrets in lib/secrets.js...): a bundle holds exactly one copy of every module it
 *   uses, dynamic imports of our own modules included (inlined, still evaluated lazily). Only one command runs
 *   per process, and nothing else in the package imports lib modules at run time (no oclif hooks; index.js only
 *   re-exports @oclif/core's run), so no second copy ever meets the bundle's.
 * - import.meta.url: a module's paths are computed from its own location (package.json, the got bundle, the
 *   native addon), so each occurrence is rewritten to that module's original URL, relative to the bundle.
 */
import {readdirSync, statSync} from 'node:fs'
import {readFile} from 'node:fs/promises'
import {dirname, join, relative, resolve, sep} from 'node:path'
import {fileURLToPath} from 'node:url'

import {build} from 'esbuild'

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..')
const outDir = resolve(root, process.argv[2] ?? 'dist')
const commandsDir = join(outDir, 'commands')

function commandFiles(dir) {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name)
    if (statSync(path).isDirectory()) return commandFiles(path)
    return name.endsWith('.js') ? [path] : []
  })
}

/** Rewrites import.meta.url in every module of ours to its original location, as seen from the bundle at `entry`. */
const originalImportMetaUrl = (entry) => ({
  name: 'original-import-meta-url',
  setup(b) {
    b.onLoad({filter: /\.js$/}, async (args) => {
      if (!args.path.startsWith(outDir + sep)) return undefined
      const source = await readFile(args.path, 'utf8')
      if (!source.includes('import.meta.url')) return {loader: 'js', contents: source}
      const fromBundle = relative(dirname(entry), args.path).split(sep).join('/')
      const url = `new URL(${JSON.stringify(fromBundle.startsWith('.') ? fromBundle : `./${fromBundle}`)}, import.meta.url).href`
      return {loader: 'js', contents: source.replaceAll('import.meta.url', url)}
    })
  },
})

for (const entry of commandFiles(commandsDir)) {
  await build({
    entryPoints: [entry],
    outfile: entry,
    allowOverwrite: true,
    bundle: true,
    packages: 'external',
    platform: 'node',
    format: 'esm',
    target: 'node20',
    plugins: [originalImportMetaUrl(entry)],
    logLevel: 'warning',
  })
}
