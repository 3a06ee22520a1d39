import {expect} from 'chai'
import {execFile} from 'node:child_process'
import {once} from 'node:events'
import {existsSync, readFileSync} from 'node:fs'
import {createServer, type IncomingMessage, type Server} from 'node:http'
import type {AddressInfo} from 'node:net'
import {join} from 'node:path'
import {pathToFileURL} from 'node:url'
import {promisify} from 'node:util'

import {GOT_BUNDLE_PATH, runGotBundle} from '../../../src/lib/api/load-got.js'
import {ROOT} from '../../helpers/cli.js'

const execFileP = promisify(execFile)

describe('got, bundled by the build (dist/vendor/got.cjs)', () => {
  let server: Server
  let base: string
  const received: Array<{method?: string; url?: string; body: string}> = []

  before(async function () {
    if (!existsSync(GOT_BUNDLE_PATH)) throw new Error('dist/vendor/got.cjs is missing: run `npm run build` first (npm test does)')
    server = createServer((request: IncomingMessage, response) => {
      let body = ''
      request.setEncoding('utf8').on('data', (chunk: string) => (body += chunk))
      request.on('end', () => {
        received.push({method: request.method, url: request.url, body})
        response.writeHead(201, {'content-type': 'application/json'}).end(JSON.stringify({echo: body}))
      })
    })
    server.listen(0, '127.0.0.1')
    await once(server, 'listening')
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  })

  after(async () => {
    server?.closeAllConnections()
    server?.close()
  })

  /** Runs `body` in a fresh Node process (no V8 compilation cache yet) with the built loader's exports in scope. */
  async function inFreshNode(body: string): Promise<unknown> {
    const loader = pathToFileURL(join(ROOT, 'dist', 'lib', 'api', 'load-got.js')).href
    const script = `const {GOT_BUNDLE_PATH, loadGotWithDetails, runGotBundle} = await import(${JSON.stringify(loader)})\n${body}`
    const {stdout} = await execFileP(process.execPath, ['--input-type=module', '-e', script], {cwd: ROOT})
    return JSON.parse(stdout)
  }

  it('is what the built CLI loads, compiled from the code cache the build saved', async () => {
    const result = await inFreshNode(`const {got, from, codeCache} = await loadGotWithDetails()
process.stdout.write(JSON.stringify({from, codeCache, got: typeof got}))`)
    expect(result).to.deep.equal({from: 'bundle', codeCache: 'accepted', got: 'function'})
  })

  it('still works when V8 rejects the code cache (a cache from another Node version)', async () => {
    const result = await inFreshNode(`const {got, script} = runGotBundle(GOT_BUNDLE_PATH, Buffer.from('not a V8 code cache'))
const response = await got(${JSON.stringify(`${base}/ping`)}, {throwHttpErrors: false, retry: {limit: 0}})
process.stdout.write(JSON.stringify({rejected: script.cachedDataRejected, status: response.statusCode}))`)
    expect(result).to.deep.equal({rejected: true, status: 201})
    expect(received.at(-1)).to.deep.equal({method: 'GET', url: '/ping', body: ''})
  })

  it('sends a JSON POST and reads the text answer, as the API client uses it', async () => {
    const {got} = runGotBundle(GOT_BUNDLE_PATH)
    const response = await got(`${base}/v1/tokens/exchange?x=1`, {
      method: 'POST',
      headers: {'content-type': 'application/json'},
      body: '{"a":1}',
      throwHttpErrors: false,
      retry: {limit: 0},
      responseType: 'text',
    })
    expect(response.statusCode).to.equal(201)
    expect(JSON.parse(response.body)).to.deep.equal({echo: '{"a":1}'})
    expect(received.at(-1)).to.deep.equal({method: 'POST', url: '/v1/tokens/exchange?x=1', body: '{"a":1}'})
  })

  it("keeps got's validation messages (their list formatter is built on first use in the bundle)", async () => {
    const {got} = runGotBundle(GOT_BUNDLE_PATH)
    const error = await got(`${base}/`, {prefixUrl: 1 as unknown as string}).then(
      () => undefined,
      (error_: Error) => error_,
    )
    expect(error?.message).to.equal("Option 'prefixUrl': Expected values which are `string` or `URL`. Received values of type `number`.")
  })

  it('says clearly that HTTP/2 is left out when a request asks for it', async () => {
    const {got} = runGotBundle(GOT_BUNDLE_PATH)
    const error = await got('https://127.0.0.1:1/', {http2: true, retry: {limit: 0}}).then(
      () => undefined,
      (error_: Error) => error_,
    )
    expect(error?.message).to.equal('HTTP/2 is not available in scalingo-tcp: its bundle of got leaves out http2-wrapper')
  })

  it('ships the licenses of every bundled package', () => {
    const licenses = readFileSync(join(ROOT, 'dist', 'vendor', 'got.LICENSES.txt'), 'utf8')
    const version = (name: string) => JSON.parse(readFileSync(join(ROOT, 'node_modules', name, 'package.json'), 'utf8')).version
    for (const name of ['got', '@sindresorhus/is', 'cacheable-request', 'http-cache-semantics', 'keyv']) {
      expect(licenses).to.include(`${name}@${version(name)} (`)
    }

    expect(licenses).not.to.include('http2-wrapper@')
  })
})
