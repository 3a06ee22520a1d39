import {readFileSync} from 'node:fs'
import {createRequire} from 'node:module'
import {dirname} from 'node:path'
import {fileURLToPath} from 'node:url'
import {Script} from 'node:vm'

import type {Got} from 'got'

/*
 * got is loaded on first use, so commands that never call the API do not pay for it, and from the one-file
 * bundle `npm run build` makes (scripts/bundle-got.js) rather than from got's ~80 ESM files (~65 ms on Node 20,
 * which has no module compile cache). The bundle is compiled with the V8 code cache the build saved beside it,
 * which also holds the functions one request runs: loading and the first request then cost about 15 ms
 * instead of 80. A cache from another Node version is rejected by V8 and the bundle compiles as usual.
 * src/lib/api and dist/lib/api are both three levels below the package root.
 */
export const GOT_BUNDLE_PATH = fileURLToPath(new URL('../../../dist/vendor/got.cjs', import.meta.url))
export const codeCachePath = (bundlePath: string): string => `${bundlePath}.cache`

export type CodeCacheState = 'accepted' | 'rejected' | 'missing'

export interface LoadedGot {
  got: Got
  /** Where got came from: the bundle, or (only when running the TypeScript sources before any build) the package. */
  from: 'bundle' | 'package'
  codeCache: CodeCacheState
}

/** Compiles and runs the CommonJS bundle at `bundlePath`; `script` can produce a code cache (the build does). */
export function runGotBundle(bundlePath: string, cachedData?: Buffer): {got: Got; script: Script} {
  // The wrapper Node gives CommonJS modules: the build's code cache is only valid for this exact source.
  const source = `(function (exports, require, module, __filename, __dirname) {${readFileSync(bundlePath, 'utf8')}\n})`
  const script = new Script(source, {filename: bundlePath, cachedData})
  const module = {exports: {} as {got?: Got}}
  script.runInThisContext()(module.exports, createRequire(bundlePath), module, bundlePath, dirname(bundlePath))
  if (typeof module.exports.got !== 'function') throw new Error(`${bundlePath} does not export got`)
  return {got: module.exports.got, script}
}

function readCodeCache(bundlePath: string): Buffer | undefined {
  try {
    return readFileSync(codeCachePath(bundlePath))
  } catch {
    return undefined
  }
}

const RUNNING_FROM_SOURCE = import.meta.url.endsWith('.ts')
let loading: Promise<LoadedGot> | undefined

export function loadGotWithDetails(): Promise<LoadedGot> {
  loading ??= (async () => {
    try {
      const cachedData = readCodeCache(GOT_BUNDLE_PATH)
      const {got, script} = runGotBundle(GOT_BUNDLE_PATH, cachedData)
      return {got, from: 'bundle', codeCache: cachedData ? (script.cachedDataRejected ? 'rejected' : 'accepted') : 'missing'}
    } catch (error) {
      // Only the TypeScript sources (tests run through tsx) may run before any build; the built CLI needs its bundle.
      if (!RUNNING_FROM_SOURCE || (error as NodeJS.ErrnoException).code !== 'ENOENT') throw error
      const {got} = await import('got')
      return {got, from: 'package', codeCache: 'missing'}
    }
  })()
  return loading
}

export async function loadGot(): Promise<Got> {
  return (await loadGotWithDetails()).got
}
