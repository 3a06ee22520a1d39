import {expect} from 'chai'
import {request} from 'node:http'

import {type ControlServer, sendJson, startControlServer} from '../../../src/lib/control/server.js'
import {FakeTarget, report} from './fake-target.js'

describe('control server', () => {
  let target: FakeTarget
  let server: ControlServer

  const call = (path: string, init: RequestInit = {}, token: string | null = server.token) =>
    fetch(`${server.url}${path}`, {
      ...init,
      headers: {...(token === null ? {} : {Authorization: `Bearer ${token}`}), ...init.headers},
    })

  const operationAt = async (location: string) => {
    const res = await fetch(location, {headers: {Authorization: `Bearer ${server.token}`}})
    expect(res.status).to.equal(200)
    return ((await res.json()) as {operation: Record<string, any>}).operation
  }

  beforeEach(async () => {
    target = new FakeTarget()
    server = await startControlServer(target, {host: '127.0.0.1'})
  })

  afterEach(async () => {
    for (const restart of target.restarts) restart.resolve(report())
    await server.close()
  })

  it('listens on 127.0.0.1 with a random 32-byte base64url token', async () => {
    expect(server.url).to.match(/^http:\/\/127\.0\.0\.1:\d+$/)
    expect(Buffer.from(server.token, 'base64url')).to.have.length(32)
    const other = await startControlServer(target)
    expect(other.token).to.not.equal(server.token)
    await other.close()
  })

  describe('authentication', () => {
    it('refuses a request without a token with a 401 JSON body', async () => {
      const res = await call('/v1/status', {}, null)
      expect(res.status).to.equal(401)
      expect(res.headers.get('www-authenticate')).to.match(/^Bearer/)
      expect(((await res.json()) as {error: string}).error).to.match(/token/)
    })

    it('refuses a wrong token, a token of another length and a prefix of the right one', async () => {
      const lastCharChanged = server.token.slice(0, -1) + (server.token.endsWith('A') ? 'B' : 'A')
      for (const token of ['wrong', server.token.slice(0, -1), server.token + 'x', lastCharChanged]) {
        const res = await call('/v1/status', {}, token)
        expect(res.status, token).to.equal(401)
      }
    })

    it('refuses unknown routes without the token too (nothing is revealed)', async () => {
      expect((await call('/nothing', {}, null)).status).to.equal(401)
    })

    it('accepts the token in the query string (for a browser)', async () => {
      const res = await fetch(`${server.url}/v1/status?token=${encodeURIComponent(server.token)}`)
      expect(res.status).to.equal(200)
      expect((await fetch(`${server.url}/v1/status?token=nope`)).status).to.equal(401)
    })

    it('refuses requests addressed to a host name other than loopback (DNS rebinding)', async () => {
      const status = await new Promise<number>((resolve, reject) => {
        const req = request(`${server.url}/v1/status`, {
          headers: {Host: 'evil.example:80', Authorization: `Bearer ${server.token}`},
        })
        req.on('response', (res) => {
          res.resume()
          resolve(res.statusCode!)
        })
        req.on('error', reject)
        req.end()
      })
      expect(status).to.equal(421)
    })
  })

  /** A raw request (fetch would pick some headers itself): the status code, once the body is read. */
  const rawStatus = (method: string, path: string, headers: Record<string, string>) =>
    new Promise<number>((resolve, reject) => {
      const req = request(`${server.url}${path}`, {method, headers})
      req.on('response', (res) => {
        res.resume()
        res.on('end', () => resolve(res.statusCode!))
      })
      req.on('error', reject)
      req.end(method === 'POST' ? 'x=1' : undefined)
    })

  describe('origin of state-changing requests (defence in depth behind the token)', () => {
    const form = {'Content-Type': 'application/x-www-form-urlencoded'}

    it('refuses a cross-origin form post with 403, even with the token, and restarts nothing', async () => {
      for (const origin of [
        'http://evil.example',
        'null',
        `${server.url.replace('127.0.0.1', 'localhost')}0`,
        'http://127.0.0.1:1',
      ]) {
        expect(
          await rawStatus('POST', `/v1/restart?token=${server.token}`, {...form, Origin: origin}),
          origin,
        ).to.equal(403)
      }

      expect(
        await rawStatus('POST', '/v1/restart', {
          Origin: 'http://evil.example',
          Authorization: `Bearer ${server.token}`,
        }),
      ).to.equal(403)
      expect(target.restarts).to.have.length(0)
      expect(server.operations.get('1')).to.equal(undefined)
    })

    it('accepts a post from the page served here (same origin, by any loopback name) and from clients that send no Origin', async () => {
      const port = new URL(server.url).port
      expect(await rawStatus('POST', `/v1/restart?token=${server.token}`, {Origin: server.url})).to.equal(202)
      expect(
        await rawStatus('POST', `/v1/restart?token=${server.token}`, {
          Origin: `http://localhost:${port}`,
          Host: `localhost:${port}`,
        }),
      ).to.equal(202)
      expect(await rawStatus('POST', '/v1/restart', {Authorization: `Bearer ${server.token}`})).to.equal(202)
      await target.restartStarted(1)
    })

    it('reads need no Origin check: a cross-origin GET still needs the token and gets no more than with it', async () => {
      expect(await rawStatus('GET', '/v1/status', {Origin: 'http://evil.example'})).to.equal(401)
      expect(
        await rawStatus('GET', '/v1/status', {Origin: 'http://evil.example', Authorization: `Bearer ${server.token}`}),
      ).to.equal(200)
    })
  })

  describe('routes', () => {
    it('GET /v1/status answers {status} from the target', async () => {
      const res = await call('/v1/status')
      expect(res.status).to.equal(200)
      expect(res.headers.get('content-type')).to.match(/application\/json/)
      const body = (await res.json()) as {status: any}
      expect(body.status).to.deep.equal(target.status())
    })

    it('GET /v1/env answers the variables of a new container of the type, sorted, without PORT nor the CLI token', async () => {
      const body = (await (await call('/v1/env?type=web')).json()) as {variables: Array<{name: string; value: string}>}
      expect(body.variables).to.deep.equal([
        {name: 'CONTAINER', value: 'web-1'},
        {name: 'GREETING', value: 'hello world'},
        {name: 'TCP_URL', value: 'tcp://127.0.0.1:20003'},
      ])
      const tcp = (await (await call('/v1/env')).json()) as {variables: Array<{name: string; value: string}>}
      expect(tcp.variables.find((v) => v.name === 'CONTAINER')?.value).to.equal('tcp-1')
    })

    it('GET /v1/env refuses a type that is not a process type name', async () => {
      expect((await call('/v1/env?type=../x')).status).to.equal(400)
    })

    it('answers 404 for an unknown path and 405 for a wrong method', async () => {
      expect((await call('/v1/nothing')).status).to.equal(404)
      const res = await call('/v1/status', {method: 'DELETE'})
      expect(res.status).to.equal(405)
      expect(res.headers.get('allow')).to.equal('GET')
    })

    it('GET /v1/operations/:id answers 404 for an unknown operation', async () => {
      expect((await call('/v1/operations/unknown')).status).to.equal(404)
    })

    it('takes extra routes with path parameters, behind the same token check', async () => {
      server.route('GET', '/page/:name', ({res, params, url}) =>
        sendJson(res, 200, {name: params.name, q: url.searchParams.get('q')}),
      )
      expect(await (await call('/page/hello%20you?q=1')).json()).to.deep.equal({name: 'hello you', q: '1'})
      expect((await call('/page/x', {}, null)).status).to.equal(401)
    })

    it('answers 400, not 500, to a path parameter with malformed percent-encoding', async () => {
      for (const path of [
        '/v1/operations/%E0%A4%A',
        '/v1/operations/%',
        '/v1/operations/%ZZ',
        '/v1/operations/%C0%80',
      ]) {
        const res = await call(path)
        expect(res.status, path).to.equal(400)
        expect(((await res.json()) as {error: string}).error).to.match(/percent-encoding/)
      }

      expect((await call('/v1/operations/%E0%A4%A4')).status).to.equal(404)
    })

    it('answers 500 with the message when a route throws', async () => {
      server.route('GET', '/boom', () => {
        throw new Error('kaput')
      })
      const res = await call('/boom')
      expect(res.status).to.equal(500)
      expect(await res.json()).to.deep.equal({error: 'kaput'})
    })
  })

  describe('restart operations', () => {
    it('POST /v1/restart answers 202 with an empty body and a Location; the operation goes running then done', async () => {
      const res = await call('/v1/restart', {method: 'POST'})
      expect(res.status).to.equal(202)
      expect(await res.text()).to.equal('')
      const location = res.headers.get('location')!
      expect(location).to.match(new RegExp(`^${server.url}/v1/operations/[0-9a-f-]{36}$`))

      await target.restartStarted(1)
      expect(target.restarts[0].reason).to.match(/control interface/)
      const running = await operationAt(location)
      expect(running).to.include({type: 'restart', status: 'running', finished_at: null})
      expect(location.endsWith(running.id)).to.equal(true)
      expect(Date.parse(running.created_at)).to.be.a('number').and.not.satisfy(Number.isNaN)

      target.restarts[0].resolve(report())
      await new Promise(setImmediate)
      const done = await operationAt(location)
      expect(done.status).to.equal('done')
      expect(done.error).to.equal(undefined)
      expect(Date.parse(done.finished_at)).to.be.at.least(Date.parse(done.created_at))
      expect(done.report).to.deep.equal(report())
    })

    it('a restart that fails ends the operation in error with the message', async () => {
      const location = (await call('/v1/restart', {method: 'POST'})).headers.get('location')!
      await target.restartStarted(1)
      target.restarts[0].reject(new Error('the gateway is stopping'))
      await new Promise(setImmediate)
      const operation = await operationAt(location)
      expect(operation).to.include({status: 'error', error: 'the gateway is stopping'})
      expect(operation.finished_at).to.be.a('string')
    })

    it('a restart whose new instances never became ready ends in error, naming them', async () => {
      const location = (await call('/v1/restart', {method: 'POST'})).headers.get('location')!
      await target.restartStarted(1)
      target.restarts[0].resolve(report(['tcp-2']))
      await new Promise(setImmediate)
      const operation = await operationAt(location)
      expect(operation.status).to.equal('error')
      expect(operation.error).to.match(/tcp-2 did not become ready/)
    })

    it('runs restarts one at a time: a request during a restart is pending, later ones share it', async () => {
      const first = (await call('/v1/restart', {method: 'POST'})).headers.get('location')!
      await target.restartStarted(1)
      const second = (await call('/v1/restart', {method: 'POST'})).headers.get('location')!
      const third = (await call('/v1/restart', {method: 'POST'})).headers.get('location')!
      expect(second).to.not.equal(first)
      expect(third).to.equal(second)
      expect((await operationAt(second)).status).to.equal('pending')
      expect(target.restarts).to.have.length(1)

      target.restarts[0].resolve(report())
      await target.restartStarted(2)
      expect((await operationAt(first)).status).to.equal('done')
      expect((await operationAt(second)).status).to.equal('running')
      target.restarts[1].resolve(report())
      await new Promise(setImmediate)
      expect((await operationAt(second)).status).to.equal('done')
      expect(target.restarts).to.have.length(2)
    })
  })

  it('close() ends kept-alive connections and stops listening', async () => {
    await call('/v1/status')
    await server.close()
    let failed = false
    try {
      await call('/v1/status')
    } catch {
      failed = true
    }

    expect(failed).to.equal(true)
    await server.close()
  })
})
