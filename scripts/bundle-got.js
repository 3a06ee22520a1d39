#!/usr/bin/env node
/*
 * Bundles got (the API client's HTTP layer) and its dependencies into one CommonJS file, <outDir>/vendor/got.cjs,
 * with a V8 code cache beside it (got.cjs.cache) and the licenses of everything inside it (got.LICENSES.txt).
 * Run by `npm run build` after tsc, which compiled the loader (<outDir>/lib/api/load-got.js) it uses:
 *   node scripts/bundle-got.js [outDir]     # outDir defaults to dist
 *
 * Why: got's ESM graph is about 80 files, and Node 20 has no module compile cache, so `import('got')` costs
 * ~65 ms of every command that calls the API; one file compiled from a code cache costs about a tenth of that.
 * Two changes to what is bundled, neither changing what got does for us:
 * - http2-wrapper (HTTP/2 support: 22 more files and node:http2) is replaced by a stub that throws a clear
 *   error: got only uses it with `http2: true`, which the client never sets (got's default is false).
 * - `new Intl.ListFormat(...)`, built at import time by @sindresorhus/is for some error messages only, is
 *   built on first use instead: creating the first Intl formatter loads ICU data (15-25 ms).
 */
import {once} from 'node:events'
import {readdirSync, readFileSync, writeFileSync} from 'node:fs'
import {createServer} from 'node:http'
import {dirname, join, resolve} from 'node:path'
import {fileURLToPath, pathToFileURL} from 'node:url'

import {build} from 'esbuild'

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..')
const outDir = resolve(root, process.argv[2] ?? 'dist')
const outfile = join(outDir, 'vendor', 'got.cjs')

const stubHttp2Wrapper = {
  name: 'stub-http2-wrapper',
  setup(b) {
    b.onResolve({filter: /^http2-wrapper$/}, () => ({path: 'http2-wrapper', namespace: 'scalingo-tcp-stub'}))
    b.onLoad({filter: /.*/, namespace: 'scalingo-tcp-stub'}, () => ({
      loader: 'js',
      contents: `const unsupported = () => {
  throw new Error('HTTP/2 is not available in scalingo-tcp: its bundle of got leaves out http2-wrapper')
}
export default {globalAgent: undefined, auto: unsupported}
`,
    }))
  },
}

const LAZY_LIST_FORMAT = `class LazyListFormat {
  #args; #formatter
  constructor(...args) { this.#args = args }
  #get() { return (this.#formatter ??= new Intl.ListFormat(...this.#args)) }
  format(list) { return this.#get().format(list) }
  formatToParts(list) { return this.#get().formatToParts(list) }
  resolvedOptions() { return this.#get().resolvedOptions() }
}
`

const lazyListFormat = {
  name: 'lazy-intl-list-format',
  setup(b) {
    b.onLoad({filter: /[\\/]node_modules[\\/]@sindresorhus[\\/]is[\\/].*\.js$/}, (args) => {
      const source = readFileSync(args.path, 'utf8')
      if (!source.includes('new Intl.ListFormat(')) return undefined
      return {loader: 'js', contents: LAZY_LIST_FORMAT + source.replaceAll('new Intl.ListFormat(', 'new LazyListFormat(')}
    })
  },
}

const result = await build({
  entryPoints: [join(root, 'node_modules', 'got', 'dist', 'source', 'index.js')],
  outfile,
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  plugins: [stubHttp2Wrapper, lazyListFormat],
  legalComments: 'eof',
  metafile: true,
  logLevel: 'warning',
})

// The code cache: compile the bundle as the CLI does, run one POST and one GET through it the way the API client
// does (so the functions a request needs are compiled too), then save what V8 compiled.
const loader = join(outDir, 'lib', 'api', 'load-got.js')
const {runGotBundle, codeCachePath} = await import(pathToFileURL(loader).href).catch((error) => {
  throw new Error(`${loader} is missing: compile the sources (tsc) before bundling got`, {cause: error})
})
const {got, script} = runGotBundle(outfile)
const server = createServer((request, response) => {
  request.resume().on('end', () => response.writeHead(200, {'content-type': 'application/json'}).end('{"token":"x"}'))
})
server.listen(0, '127.0.0.1')
await once(server, 'listening')
const base = `http://127.0.0.1:${server.address().port}`
const options = {throwHttpErrors: false, retry: {limit: 0}, timeout: {request: 10_000}, followRedirect: false, responseType: 'text'}
const headers = {accept: 'application/json', 'user-agent': 'scalingo-tcp-build'}
await got(`${base}/v1/tokens/exchange`, {...options, method: 'POST', headers: {...headers, 'content-type': 'application/json'}, body: '{}'})
await got(`${base}/v1/apps/app/variables?aliases=true`, {...options, method: 'GET', headers})
server.close()
server.closeAllConnections()
writeFileSync(codeCachePath(outfile), script.createCachedData())

// The licenses of every package in the bundle, since the bundle replaces their files.
const packages = new Map()
for (const input of Object.keys(result.metafile.inputs)) {
  const match = /^(.*node_modules[\\/](?:@[^\\/]+[\\/])?[^\\/]+)[\\/]/.exec(input)
  if (!match) continue
  const dir = resolve(root, match[1])
  if (packages.has(dir)) continue
  const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'))
  const licenseFile = readdirSync(dir).find((name) => /^(licen[cs]e|copying)(\.|$)/i.test(name))
  packages.set(dir, {pkg, text: licenseFile ? readFileSync(join(dir, licenseFile), 'utf8').trim() : `License: ${pkg.license}`})
}

const notices = [...packages.values()]
  .sort((a, b) => a.pkg.name.localeCompare(b.pkg.name))
  .map(({pkg, text}) => `${pkg.name}@${pkg.version} (${pkg.license})\n\n${text}\n`)
writeFileSync(
  join(dirname(outfile), 'got.LICENSES.txt'),
  `vendor/got.cjs bundles these packages:\n\n${notices.join('\n' + '-'.repeat(72) + '\n\n')}`,
)
