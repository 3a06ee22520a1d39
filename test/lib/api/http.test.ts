import {expect} from 'chai'
import {once} from 'node:events'
import {createServer, type IncomingMessage, type Server, type ServerResponse} from 'node:http'
import type {AddressInfo} from 'node:net'

import {httpRequest} from '../../../src/lib/api/http.js'

describe('httpRequest (the API client transport)', () => {
  let server: Server
  let base: string
  let handler: (req: IncomingMessage, res: ServerResponse, body: string) => void
  const received: Array<{method?: string; url?: string; headers: IncomingMessage['headers']; body: string}> = []

  before(async () => {
    server = createServer((req, res) => {
      let body = ''
      req.setEncoding('utf8').on('data', (chunk: string) => (body += chunk))
      req.on('end', () => {
        received.push({method: req.method, url: req.url, headers: req.headers, body})
        handler(req, res, body)
      })
    })
    server.listen(0, '127.0.0.1')
    await once(server, 'listening')
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  })

  after(async () => {
    server.closeAllConnections()
    server.close()
    await once(server, 'close')
  })

  it('sends the method, headers and a JSON body with its Content-Length (not chunked), and returns status, headers and text', async () => {
    handler = (_req, res) => res.writeHead(201, {'content-type': 'application/json', 'x-id': '42'}).end('{"ok":true}')
    const body = JSON.stringify({name: 'é'})
    const response = await httpRequest(`${base}/v1/things?x=1`, {method: 'POST', headers: {accept: 'application/json'}, body, timeoutMs: 5000})
    expect(response).to.deep.include({status: 201, text: '{"ok":true}'})
    expect(response.headers['x-id']).to.equal('42')
    const request = received.at(-1)!
    expect(request).to.deep.include({method: 'POST', url: '/v1/things?x=1', body})
    expect(request.headers['content-length']).to.equal(String(Buffer.byteLength(body)))
    expect(request.headers).to.not.have.property('transfer-encoding')
    expect(request.headers).to.not.have.property('accept-encoding')
  })

  it('decodes UTF-8 split across chunks', async () => {
    const text = JSON.stringify({value: 'ünïcødé ✓'})
    const bytes = Buffer.from(text)
    handler = (_req, res) => {
      res.writeHead(200)
      // Cut inside the multi-byte ü, and send the rest once the first part is out.
      res.write(bytes.subarray(0, 11), () => res.end(bytes.subarray(11)))
    }

    expect((await httpRequest(base, {method: 'GET', headers: {}, timeoutMs: 5000})).text).to.equal(text)
  })

  it('fails with a TimeoutError (ETIMEDOUT) when the whole response takes longer than timeoutMs', async () => {
    handler = (_req, res) => res.writeHead(200).write('{"partial":')
    const started = Date.now()
    const error = await httpRequest(base, {method: 'GET', headers: {}, timeoutMs: 150}).then(
      () => undefined,
      (error_: NodeJS.ErrnoException) => error_,
    )
    expect(error?.name).to.equal('TimeoutError')
    expect(error?.code).to.equal('ETIMEDOUT')
    expect(Date.now() - started).to.be.within(140, 2000)
  })

  it('fails with ECONNRESET when the connection drops in the middle of the body', async () => {
    handler = (req, res) => {
      res.writeHead(200, {'content-length': '100'})
      res.write('{"cut":', () => req.socket.destroy())
    }

    const error = await httpRequest(base, {method: 'GET', headers: {}, timeoutMs: 5000}).then(
      () => undefined,
      (error_: NodeJS.ErrnoException) => error_,
    )
    expect(error?.code).to.equal('ECONNRESET')
  })

  it("fails with Node's error code when nothing listens", async () => {
    const closed = createServer()
    closed.listen(0, '127.0.0.1')
    await once(closed, 'listening')
    const {port} = closed.address() as AddressInfo
    closed.close()
    await once(closed, 'close')
    const error = await httpRequest(`http://127.0.0.1:${port}/`, {method: 'GET', headers: {}, timeoutMs: 5000}).then(
      () => undefined,
      (error_: NodeJS.ErrnoException) => error_,
    )
    expect(error?.code).to.equal('ECONNREFUSED')
  })
})
