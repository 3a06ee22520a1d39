import {expect} from 'chai'
import {EventEmitter, once} from 'node:events'
import {type IncomingMessage, request} from 'node:http'

import {type ControlServer, startControlServer} from '../../../src/lib/control/server.js'
import {renderStatusPage} from '../../../src/lib/control/status-page-html.js'
import {installStatusPage, statusPageUrl} from '../../../src/lib/control/status-page.js'
import type {ProxyEvent} from '../../../src/lib/contract.js'
import {FakeTarget, report} from './fake-target.js'

interface SseMessage {
  event: string
  data: any
}

/** An open event stream: parses messages as they arrive and lets the test wait for one. */
class EventStream {
  readonly messages: SseMessage[] = []
  response!: IncomingMessage
  private buffer = ''
  private waiters: Array<{match: (m: SseMessage) => boolean; resolve: (m: SseMessage) => void}> = []
  private readonly req
  private readonly closed: Promise<void>

  constructor(url: string) {
    this.req = request(url)
    this.req.on('error', () => {})
    this.closed = new Promise<void>((resolve) => this.req.once('close', () => resolve()))
    this.req.end()
  }

  async opened(): Promise<IncomingMessage> {
    this.response = await new Promise<IncomingMessage>((resolve) => this.req.once('response', resolve))
    this.response.setEncoding('utf8').on('data', (chunk: string) => this.onData(chunk))
    return this.response
  }

  next(match: (m: SseMessage) => boolean): Promise<SseMessage> {
    const seen = this.messages.find(match)
    if (seen) return Promise.resolve(seen)
    return new Promise((resolve) => this.waiters.push({match, resolve}))
  }

  close(): Promise<void> {
    this.req.destroy()
    return this.closed
  }

  private onData(chunk: string): void {
    this.buffer += chunk
    let end: number
    while ((end = this.buffer.indexOf('\n\n')) >= 0) {
      const block = this.buffer.slice(0, end)
      this.buffer = this.buffer.slice(end + 2)
      const event = /^event: (.*)$/m.exec(block)?.[1]
      const data = /^data: (.*)$/m.exec(block)?.[1]
      if (!event || data === undefined) continue
      const message = {event, data: JSON.parse(data)}
      this.messages.push(message)
      this.waiters = this.waiters.filter((w) => !(w.match(message) && (w.resolve(message), true)))
    }
  }
}

describe('status page routes', () => {
  let target: FakeTarget
  let events: EventEmitter
  let server: ControlServer
  const streams: EventStream[] = []

  const open = async (path: string) => {
    const stream = new EventStream(`${server.url}${path}`)
    streams.push(stream)
    await stream.opened()
    return stream
  }

  beforeEach(async () => {
    target = new FakeTarget()
    events = new EventEmitter()
    server = await startControlServer(target)
    // A long interval: a test that sees a second `status` quickly saw it because of an event.
    installStatusPage(server, events, {intervalMs: 60_000})
  })

  afterEach(async () => {
    await Promise.all(streams.splice(0).map((s) => s.close()))
    for (const restart of target.restarts) restart.resolve(report())
    await server.close()
  })

  it('gives the page URL with its token, which serves the page with a strict CSP, no caching and no referrer', async () => {
    const url = statusPageUrl(server)
    expect(url).to.equal(`${server.url}/?token=${server.token}`)
    for (const path of [url, `${server.url}/status?token=${server.token}`]) {
      const res = await fetch(path)
      expect(res.status, path).to.equal(200)
      expect(res.headers.get('content-type')).to.equal('text/html; charset=utf-8')
      expect(res.headers.get('cache-control')).to.equal('no-store')
      expect(res.headers.get('referrer-policy')).to.equal('no-referrer')
      expect(res.headers.get('x-frame-options')).to.equal('DENY')
      const csp = res.headers.get('content-security-policy')!
      const nonce = /script-src 'nonce-([A-Za-z0-9+/=]+)'/.exec(csp)?.[1]
      expect(nonce, csp).to.be.a('string')
      expect(csp)
        .to.include("default-src 'self'")
        .and.include(`style-src 'nonce-${nonce}'`)
        .and.include("frame-ancestors 'none'")
      expect(csp).to.not.include('unsafe-inline')
      const html = await res.text()
      expect(html).to.include(`<script nonce="${nonce}">`).and.include(`<style nonce="${nonce}">`)
    }
  })

  it('uses a fresh nonce for every response', async () => {
    const nonces = await Promise.all(
      [1, 2].map(async () => (await fetch(statusPageUrl(server))).headers.get('content-security-policy')),
    )
    expect(nonces[0]).to.not.equal(nonces[1])
  })

  it('answers the page without a token, or with a wrong one, with an HTML 401 page that says where the URL is', async () => {
    for (const path of ['/', '/status', '/?token=wrong']) {
      const res = await fetch(`${server.url}${path}`)
      expect(res.status, path).to.equal(401)
      expect(res.headers.get('content-type')).to.equal('text/html; charset=utf-8')
      expect(res.headers.get('content-security-policy')).to.include("default-src 'self'")
      const html = await res.text()
      expect(html).to.include('token required').and.include('.scalingo-tcp.json')
      expect(html).to.not.include(server.token)
    }
  })

  it('refuses the event stream without a token (JSON 401)', async () => {
    const res = await fetch(`${server.url}/v1/events`)
    expect(res.status).to.equal(401)
    expect(res.headers.get('content-type')).to.match(/^application\/json/)
  })

  it('has no external resource and puts no data into the DOM as HTML', () => {
    const html = renderStatusPage('n0nce')
    expect(html).to.not.match(/\b(src|href)="(?!data:)/)
    expect(html).to.not.match(/https?:\/\//)
    expect(html).to.not.match(/innerHTML|outerHTML|insertAdjacentHTML|document\.write/)
    expect(html.match(/<script/g)).to.have.length(1)
  })

  it('streams a status sample at once, then one on every state change, and forwards the proxy events', async () => {
    const stream = await open(`/v1/events?token=${server.token}`)
    expect(stream.response.statusCode).to.equal(200)
    expect(stream.response.headers['content-type']).to.equal('text/event-stream; charset=utf-8')
    expect(stream.response.headers['cache-control']).to.equal('no-store')

    const first = await stream.next((m) => m.event === 'status')
    expect(first.data.status).to.deep.equal(target.status())
    expect(first.data.time).to.be.a('number')

    const ready: ProxyEvent = {event: 'instance-ready', instance: 'tcp-1', generation: 2, port: 40_001, bootMs: 12}
    events.emit('event', ready)
    const forwarded = await stream.next((m) => m.event === 'proxy')
    expect(forwarded.data).to.include({event: 'instance-ready', instance: 'tcp-1', generation: 2})
    await stream.next((m) => m.event === 'status' && m !== first)
    expect(stream.messages.map((m) => m.event)).to.deep.equal(['status', 'proxy', 'status'])
  })

  it('brings a status forward on connection events without forwarding them, and never sends app output', async () => {
    const stream = await open(`/v1/events?token=${server.token}`)
    const first = await stream.next((m) => m.event === 'status')
    events.emit('event', {event: 'output', instance: 'tcp-1', stream: 'stdout', line: 'hello'} satisfies ProxyEvent)
    for (let id = 1; id <= 20; id++)
      events.emit('event', {
        event: 'connection-opened',
        id,
        instance: 'tcp-1',
        generation: 1,
        client: '127.0.0.1:5000',
      } satisfies ProxyEvent)
    await stream.next((m) => m.event === 'status' && m !== first)
    expect(stream.messages.map((m) => m.event)).to.deep.equal(['status', 'status'])
  })

  it('sends a status sample every interval', async () => {
    const fast = await startControlServer(target)
    installStatusPage(fast, events, {intervalMs: 50})
    try {
      const stream = new EventStream(`${fast.url}/v1/events?token=${fast.token}`)
      streams.push(stream)
      await stream.opened()
      await stream.next(() => stream.messages.length >= 3)
      const times = stream.messages.map((m) => m.data.time as number)
      expect(times[2] - times[1]).to.be.at.least(40)
    } finally {
      await fast.close()
    }
  })

  it('ends the stream, not the gateway, when the status cannot be read', async () => {
    const stream = await open(`/v1/events?token=${server.token}`)
    await stream.next((m) => m.event === 'status')
    target.status = () => {
      throw new Error('not started')
    }

    const ended = new Promise<void>((resolve) => stream.response.once('close', resolve))
    const removed = once(events, 'removeListener')
    events.emit('event', {
      event: 'instance-ready',
      instance: 'tcp-1',
      generation: 1,
      port: 40_000,
      bootMs: 1,
    } satisfies ProxyEvent)
    await Promise.all([ended, removed])
    expect(events.listenerCount('event')).to.equal(0)
    expect((await fetch(statusPageUrl(server))).status).to.equal(200)
  })

  it('redacts secrets that reach an event', async () => {
    const stream = await open(`/v1/events?token=${server.token}`)
    events.emit('event', {
      event: 'instance-boot-failed',
      instance: 'tcp-1',
      generation: 1,
      reason: 'boot',
      lastLines: ['using tk-us-abcdef123456'],
    } satisfies ProxyEvent)
    const failed = await stream.next((m) => m.event === 'proxy')
    expect(failed.data.lastLines).to.deep.equal(['using [REDACTED]'])
  })

  it('removes its listener when the client disconnects', async () => {
    const stream = await open(`/v1/events?token=${server.token}`)
    await stream.next((m) => m.event === 'status')
    expect(events.listenerCount('event')).to.equal(1)
    const removed = once(events, 'removeListener')
    await stream.close()
    expect((await removed)[0]).to.equal('event')
    expect(events.listenerCount('event')).to.equal(0)
  })
})
