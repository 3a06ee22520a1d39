import {expect} from 'chai'
import {execFileSync} from 'node:child_process'
import {once} from 'node:events'
import {existsSync, mkdtempSync, readFileSync, rmSync} from 'node:fs'
import {createServer, type IncomingMessage, type Server} from 'node:http'
import {createSecureServer, type Http2SecureServer, type ServerHttp2Session} from 'node:http2'
import type {AddressInfo} from 'node:net'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {GOT_BUNDLE_URL, loadGot} from '../../../src/lib/api/load-got.js'
import {ROOT} from '../../support/cli.js'

describe('got, as the API client loads it (the bundle the build makes, dist/vendor/got.cjs)', () => {
  let server: Server
  let base: string
  const received: Array<{method?: string; url?: string; body: string}> = []

  before(async function () {
    if (!existsSync(GOT_BUNDLE_URL))
      throw new Error('dist/vendor/got.cjs is missing: run `npm run build` first (npm test does)')
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

  it('comes from the bundle, loaded once', async () => {
    const got = await loadGot()
    const bundle = (await import(GOT_BUNDLE_URL.href)) as {got: unknown}
    expect(got).to.be.a('function')
    expect(got).to.equal(bundle.got)
    expect(await loadGot()).to.equal(got)
  })

  it('sends a JSON POST and reads the text answer, as the API client uses it', async () => {
    const got = await loadGot()
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

  it("keeps got's validation messages", async () => {
    const got = await loadGot()
    const error = await got(`${base}/`, {prefixUrl: 1 as unknown as string}).then(
      () => undefined,
      (error_: Error) => error_,
    )
    expect(error?.message).to.equal(
      "Option 'prefixUrl': Expected values which are `string` or `URL`. Received values of type `number`.",
    )
  })

  describe('over TLS, HTTP/1.1 and HTTP/2 (nothing of got is left out of the bundle)', () => {
    let dir: string
    let h2: Http2SecureServer
    let cert: string
    const sessions = new Set<ServerHttp2Session>()

    before(async () => {
      dir = mkdtempSync(join(tmpdir(), 'scalingo-tcp-h2-'))
      // A throwaway self-signed certificate for 127.0.0.1 (openssl is on every CI image and developer machine we use).
      execFileSync(
        'openssl',
        [
          'req',
          '-x509',
          '-newkey',
          'ec',
          '-pkeyopt',
          'ec_paramgen_curve:prime256v1',
          '-nodes',
          '-days',
          '1',
          '-subj',
          '/CN=127.0.0.1',
          '-addext',
          'subjectAltName=IP:127.0.0.1',
          '-keyout',
          join(dir, 'key.pem'),
          '-out',
          join(dir, 'cert.pem'),
        ],
        {stdio: 'ignore'},
      )
      cert = readFileSync(join(dir, 'cert.pem'), 'utf8')
      // HTTPS over HTTP/1.1 (what the API client speaks) and HTTP/2 on the same port.
      h2 = createSecureServer({key: readFileSync(join(dir, 'key.pem')), cert, allowHTTP1: true})
      // got keeps HTTP/2 sessions open for reuse: the server ends them so that it can close.
      h2.on('session', (session) => sessions.add(session))
      h2.on('request', (request, response) => {
        response.writeHead(200, {'content-type': 'application/json'})
        response.end(JSON.stringify({path: request.url, httpVersion: request.httpVersion}))
      })
      h2.listen(0, '127.0.0.1')
      await once(h2, 'listening')
    })

    after(() => {
      for (const session of sessions) session.destroy()
      h2?.close()
      if (dir) rmSync(dir, {recursive: true, force: true})
    })

    it('makes HTTPS requests as the API client does', async () => {
      const got = await loadGot()
      const response = await got(`https://127.0.0.1:${(h2.address() as AddressInfo).port}/v1/apps`, {
        https: {certificateAuthority: cert},
        retry: {limit: 0},
        responseType: 'text',
      })
      expect(response.httpVersion).to.equal('1.1')
      expect(JSON.parse(response.body)).to.deep.equal({path: '/v1/apps', httpVersion: '1.1'})
    })

    it('refuses a certificate it cannot verify', async () => {
      const got = await loadGot()
      const error = await got(`https://127.0.0.1:${(h2.address() as AddressInfo).port}/`, {retry: {limit: 0}}).then(
        () => undefined,
        (error_: Error & {code?: string}) => error_,
      )
      expect(error?.code).to.equal('DEPTH_ZERO_SELF_SIGNED_CERT')
    })

    it('speaks HTTP/2 when a request asks for it', async () => {
      const got = await loadGot()
      const response = await got(`https://127.0.0.1:${(h2.address() as AddressInfo).port}/h2`, {
        http2: true,
        https: {certificateAuthority: cert},
        retry: {limit: 0},
      })
      expect(response.httpVersion).to.equal('2.0')
      expect(JSON.parse(response.body)).to.deep.equal({path: '/h2', httpVersion: '2.0'})
    })
  })

  it('ships the licenses of every bundled package', () => {
    const licenses = readFileSync(join(ROOT, 'dist', 'vendor', 'got.LICENSES.txt'), 'utf8')
    const version = (name: string) =>
      JSON.parse(readFileSync(join(ROOT, 'node_modules', name, 'package.json'), 'utf8')).version
    for (const name of [
      'got',
      '@sindresorhus/is',
      'cacheable-request',
      'http-cache-semantics',
      'keyv',
      'http2-wrapper',
    ]) {
      expect(licenses).to.include(`${name}@${version(name)} (`)
    }
  })
})
