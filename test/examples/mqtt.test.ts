import {expect} from 'chai'
import {type ChildProcess, spawn} from 'node:child_process'
import {once} from 'node:events'
import net, {type AddressInfo} from 'node:net'
import {fileURLToPath} from 'node:url'

import {MqttClient, backoffDelay, parseTcpUrl} from '../../examples/mqtt/lib/client.mjs'
import {
  type DecodedPacket,
  MqttProtocolError,
  type Packet,
  PacketParser,
  encode,
  isValidTopicFilter,
  topicMatches,
} from '../../examples/mqtt/lib/mqtt.mjs'
import {baseEnv} from '../helpers/cli.js'

const EXAMPLE_DIR = fileURLToPath(new URL('../../examples/mqtt/', import.meta.url))
const WAIT_MS = 8000

async function freePort(): Promise<number> {
  const server = net.createServer()
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const {port} = server.address() as AddressInfo
  server.close()
  await once(server, 'close')
  return port
}

/** A child process whose output can be awaited line by line. */
class Proc {
  readonly child: ChildProcess
  readonly exited: Promise<{code: number | null; signal: NodeJS.Signals | null}>
  output = {stdout: '', stderr: ''}
  #waiters = new Set<() => void>()

  constructor(args: string[], env: Record<string, string>) {
    this.child = spawn(process.execPath, args, {cwd: EXAMPLE_DIR, env: {...baseEnv(), ...env}, stdio: 'pipe'})
    for (const stream of ['stdout', 'stderr'] as const) {
      this.child[stream]!.setEncoding('utf8').on('data', (text: string) => {
        this.output[stream] += text
        for (const wake of this.#waiters) wake()
      })
    }

    this.exited = new Promise((resolve) => {
      this.child.on('exit', (code, signal) => {
        resolve({code, signal})
        for (const wake of this.#waiters) wake()
      })
    })
  }

  /** Resolves with the first match of `pattern` in `stream` after character offset `from`. */
  waitFor(stream: 'stdout' | 'stderr', pattern: RegExp, from = 0): Promise<RegExpMatchArray> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const match = this.output[stream].slice(from).match(pattern)
        if (match) return done(() => resolve(match))
        if (this.child.exitCode !== null || this.child.signalCode !== null) {
          done(() => reject(new Error(`process exited before ${pattern} appeared on ${stream}:\n${this.describe()}`)))
        }
      }

      const timer = setTimeout(() => done(() => reject(new Error(`${pattern} not seen on ${stream}:\n${this.describe()}`))), WAIT_MS)
      const done = (settle: () => void) => {
        clearTimeout(timer)
        this.#waiters.delete(check)
        settle()
      }

      this.#waiters.add(check)
      check()
    })
  }

  describe(): string {
    return `stdout: ${this.output.stdout}\nstderr: ${this.output.stderr}`
  }

  kill(signal: NodeJS.Signals = 'SIGKILL'): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill(signal)
  }
}

const processes: Proc[] = []
const clients: MqttClient[] = []
const sockets: net.Socket[] = []

function startProcess(args: string[], env: Record<string, string>): Proc {
  const proc = new Proc(args, env)
  processes.push(proc)
  return proc
}

async function startBroker(port?: number): Promise<{proc: Proc; port: number; url: string}> {
  const brokerPort = port ?? (await freePort())
  const proc = startProcess(['broker.mjs'], {PORT: String(brokerPort), CONTAINER: 'tcp-1'})
  await proc.waitFor('stdout', /listening on \d+/)
  return {proc, port: brokerPort, url: `tcp://127.0.0.1:${brokerPort}`}
}

async function connectClient(url: string, clientId?: string): Promise<MqttClient> {
  const client = new MqttClient({url, clientId, minDelayMs: 20, maxDelayMs: 200})
  clients.push(client)
  client.on('error', () => {})
  await client.connect()
  return client
}

function collectMessages(client: MqttClient): string[] {
  const received: string[] = []
  client.on('message', (topic, payload, {retain}) => received.push(`${topic} ${payload}${retain ? ' (retained)' : ''}`))
  return received
}

function nextMessage(client: MqttClient, topic: string): Promise<string> {
  return new Promise((resolve) => {
    const onMessage = (received: string, payload: Buffer) => {
      if (received !== topic) return
      client.off('message', onMessage)
      resolve(payload.toString('utf8'))
    }

    client.on('message', onMessage)
  })
}

/** A raw TCP connection that decodes what the broker sends, to drive the broker byte by byte. */
class RawClient {
  readonly socket: net.Socket
  readonly packets: DecodedPacket[] = []
  readonly closed: Promise<void>
  #parser = new PacketParser()
  #wake = (): void => {}

  constructor(port: number) {
    this.socket = net.connect({host: '127.0.0.1', port})
    this.socket.setNoDelay(true)
    sockets.push(this.socket)
    this.socket.on('data', (chunk) => {
      this.packets.push(...this.#parser.push(chunk))
      this.#wake()
    })
    this.socket.on('error', () => {})
    this.closed = once(this.socket, 'close').then(() => {})
  }

  async ready(): Promise<this> {
    await once(this.socket, 'connect')
    return this
  }

  async nextPacket(type: DecodedPacket['type']): Promise<DecodedPacket> {
    for (;;) {
      const index = this.packets.findIndex((packet) => packet.type === type)
      if (index !== -1) return this.packets.splice(index, 1)[0]
      const closed = this.closed.then(() => {
        throw new Error(`connection closed while waiting for ${type}`)
      })
      await Promise.race([new Promise<void>((resolve) => (this.#wake = resolve)), closed])
    }
  }

  send(packet: Packet): void {
    this.socket.write(encode(packet))
  }

  async connect(clientId: string): Promise<DecodedPacket> {
    this.send({type: 'connect', clientId, keepAlive: 0})
    return this.nextPacket('connack')
  }
}

async function writeByteByByte(socket: net.Socket, bytes: Buffer): Promise<void> {
  for (const byte of bytes) {
    await new Promise<void>((resolve, reject) => socket.write(Buffer.from([byte]), (error) => (error ? reject(error) : resolve())))
  }
}

describe('examples/mqtt', () => {
  afterEach(async () => {
    for (const socket of sockets.splice(0)) socket.destroy()
    await Promise.all(clients.splice(0).map((client) => client.end()))
  })

  after(() => {
    for (const proc of processes.splice(0)) proc.kill()
  })

  describe('lib/mqtt.mjs (the codec shared by broker, web and client)', () => {
    it('matches topic filters with + and # as MQTT 3.1.1 defines them', () => {
      const cases: Array<[string, string, boolean]> = [
        ['sensors/+/temp', 'sensors/kitchen/temp', true],
        ['sensors/+/temp', 'sensors/kitchen/humidity', false],
        ['sensors/+/temp', 'sensors/a/b/temp', false],
        ['sensors/#', 'sensors', true],
        ['sensors/#', 'sensors/a/b/c', true],
        ['#', 'anything/at/all', true],
        ['+', 'one', true],
        ['+', 'one/two', false],
        ['+/+', '/finance', true],
        ['exact/topic', 'exact/topic', true],
        ['exact/topic', 'exact/topic/more', false],
        ['#', '$SYS/uptime', false],
        ['+/uptime', '$SYS/uptime', false],
        ['$SYS/#', '$SYS/uptime', true],
      ]
      for (const [filter, topic, expected] of cases) {
        expect(topicMatches(filter, topic), `${filter} vs ${topic}`).to.equal(expected)
      }
    })

    it('tells valid topic filters from invalid ones', () => {
      for (const filter of ['a/b', '#', 'a/#', '+', 'a/+/c', '+/+']) expect(isValidTopicFilter(filter), filter).to.equal(true)
      for (const filter of ['', 'a/#/c', 'a#', 'a/b+', '#/a', 'a\u0000b']) expect(isValidTopicFilter(filter), filter).to.equal(false)
    })

    it('parses packets fed one byte at a time, including a 3-byte remaining length', () => {
      const payload = Buffer.alloc(20_000, 'x')
      const packets: Packet[] = [
        {type: 'connect', clientId: 'dev-1', keepAlive: 30, cleanSession: true, will: {topic: 'dev/1/status', payload: 'gone', qos: 0, retain: true}},
        {type: 'publish', topic: 'big/one', payload, qos: 1, retain: false, dup: false, packetId: 7},
        {type: 'subscribe', packetId: 8, subscriptions: [{topic: 'a/+', qos: 0}, {topic: 'b/#', qos: 1}]},
        {type: 'pingreq'},
      ]
      const bytes = Buffer.concat(packets.map((packet) => encode(packet)))
      expect(bytes[encode(packets[0]).length + 1] & 0x80, 'first length byte has a continuation bit').to.not.equal(0)

      const parser = new PacketParser()
      const decoded: DecodedPacket[] = []
      for (const byte of bytes) decoded.push(...parser.push(Buffer.from([byte])))
      expect(decoded.map((packet) => packet.type)).to.deep.equal(['connect', 'publish', 'subscribe', 'pingreq'])
      expect(decoded[0]).to.include({clientId: 'dev-1', keepAlive: 30, cleanSession: true})
      expect(decoded[0].will.payload.toString()).to.equal('gone')
      expect(decoded[1]).to.include({topic: 'big/one', qos: 1, packetId: 7})
      expect(decoded[1].payload.equals(payload)).to.equal(true)
      expect(decoded[2].subscriptions).to.deep.equal([{topic: 'a/+', qos: 0}, {topic: 'b/#', qos: 1}])
      expect(parser.buffered).to.equal(0)
    })

    it('parses several packets arriving in one chunk', () => {
      const chunk = Buffer.concat([encode({type: 'pingreq'}), encode({type: 'publish', topic: 't', payload: 'p'}), encode({type: 'disconnect'})])
      expect(new PacketParser().push(chunk).map((packet) => packet.type)).to.deep.equal(['pingreq', 'publish', 'disconnect'])
    })

    it('rejects malformed packets with MqttProtocolError', () => {
      const malformed: Record<string, Buffer> = {
        'a 5-byte remaining length': Buffer.from([0x30, 0xff, 0xff, 0xff, 0xff, 0x01]),
        'reserved packet type 0': Buffer.from([0x00, 0x00]),
        'reserved packet type 15': Buffer.from([0xf0, 0x00]),
        'SUBSCRIBE with flags 0000': Buffer.from([0x80, 0x06, 0x00, 0x01, 0x00, 0x01, 0x61, 0x00]),
        'PUBLISH with QoS 3': Buffer.from([0x36, 0x05, 0x00, 0x01, 0x61, 0x00, 0x01]),
        'PUBLISH to a wildcard topic': Buffer.from([0x30, 0x03, 0x00, 0x01, 0x23]),
        'a string longer than its packet': Buffer.from([0x30, 0x03, 0x00, 0x09, 0x61]),
        'PINGREQ with a body': Buffer.from([0xc0, 0x01, 0x00]),
        'a packet over the size limit': Buffer.concat([Buffer.from([0x30]), Buffer.from([0x80, 0x80, 0x80, 0x01])]),
      }
      for (const [what, bytes] of Object.entries(malformed)) {
        expect(() => new PacketParser().push(bytes), what).to.throw(MqttProtocolError)
      }
    })
  })

  describe('lib/client.mjs helpers', () => {
    it('parses TCP_URL and refuses anything that is not tcp://host:port', () => {
      expect(parseTcpUrl('tcp://tcp-1.osc-fr1.scalingo.com:20003')).to.deep.equal({host: 'tcp-1.osc-fr1.scalingo.com', port: 20_003})
      expect(parseTcpUrl('tcp://[::1]:1883')).to.deep.equal({host: '::1', port: 1883})
      for (const bad of ['127.0.0.1:20003', 'http://host:80', 'tcp://host', 'nonsense']) {
        expect(() => parseTcpUrl(bad), bad).to.throw(/expected tcp:\/\/host:port/)
      }
    })

    it('backs off exponentially up to a ceiling, with jitter', () => {
      const top = {random: () => 1}
      expect([1, 2, 3, 4, 10].map((attempt) => backoffDelay(attempt, {...top, minDelayMs: 100, maxDelayMs: 1000}))).to.deep.equal([100, 200, 400, 800, 1000])
      expect(backoffDelay(3, {random: () => 0, minDelayMs: 100})).to.equal(200)
    })
  })

  describe('broker.mjs', () => {
    let broker: {proc: Proc; port: number; url: string}

    before(async () => {
      broker = await startBroker()
    })

    after(() => broker.proc.kill())

    it('logs one line per client connect and disconnect, with CONTAINER', async () => {
      const from = broker.proc.output.stdout.length
      const client = await connectClient(broker.url, 'sensor-1')
      await broker.proc.waitFor('stdout', /\[tcp-1\] client sensor-1 connected\n/, from)
      await client.end()
      await broker.proc.waitFor('stdout', /\[tcp-1\] client sensor-1 disconnected\n/, from)
    })

    it('fans publishes out to the subscribers whose filters match (+ and #), once each', async () => {
      const subscriber = await connectClient(broker.url, 'sub-wildcards')
      const other = await connectClient(broker.url, 'sub-other')
      const received = collectMessages(subscriber)
      const receivedByOther = collectMessages(other)
      expect(await subscriber.subscribe('sensors/+/temp')).to.equal(0)
      expect(await subscriber.subscribe('alerts/#')).to.equal(0)
      await subscriber.subscribe('alerts/fire/+')
      await other.subscribe('done')
      const publisher = await connectClient(broker.url, 'pub-wildcards')
      await publisher.publish('sensors/kitchen/temp', '21.5', {qos: 1})
      await publisher.publish('sensors/kitchen/humidity', '40')
      await publisher.publish('sensors/a/b/temp', 'too deep')
      await publisher.publish('alerts/fire/level1', 'smoke')
      await publisher.publish('alerts', 'parent level')
      const done = Promise.all([nextMessage(subscriber, 'done'), nextMessage(other, 'done')])
      await subscriber.subscribe('done')
      await publisher.publish('done', 'end', {qos: 1})
      // Each client's deliveries arrive in order on its own connection, so after 'done' nothing else is on its way.
      await done
      expect(received).to.deep.equal(['sensors/kitchen/temp 21.5', 'alerts/fire/level1 smoke', 'alerts parent level', 'done end'])
      expect(receivedByOther).to.deep.equal(['done end'])
    })

    it('delivers the last retained message of a topic to a late subscriber, and clears it on an empty one', async () => {
      const publisher = await connectClient(broker.url, 'pub-retained')
      await publisher.publish('rooms/1/state', 'old', {qos: 1, retain: true})
      await publisher.publish('rooms/1/state', 'on', {qos: 1, retain: true})
      await publisher.publish('rooms/2/state', 'off', {qos: 1, retain: true})
      await publisher.publish('rooms/2/state', '', {qos: 1, retain: true})
      await publisher.publish('rooms/3/state', 'not retained', {qos: 1})

      const late = await connectClient(broker.url, 'sub-late')
      const received = collectMessages(late)
      const retained = nextMessage(late, 'rooms/1/state')
      await late.subscribe('rooms/+/state')
      expect(await retained).to.equal('on')
      const live = nextMessage(late, 'rooms/1/state')
      await publisher.publish('rooms/1/state', 'live', {qos: 1})
      expect(await live).to.equal('live')
      expect(received).to.deep.equal(['rooms/1/state on (retained)', 'rooms/1/state live'])
    })

    it('parses packets written one byte at a time across TCP writes', async () => {
      const raw = await new RawClient(broker.port).ready()
      const bytes = Buffer.concat([
        encode({type: 'connect', clientId: 'slow-writer', keepAlive: 0}),
        encode({type: 'subscribe', packetId: 1, subscriptions: [{topic: 'slow/#', qos: 0}]}),
        encode({type: 'publish', topic: 'slow/big', payload: Buffer.alloc(300, 'y'), qos: 1, packetId: 2}),
      ])
      await writeByteByByte(raw.socket, bytes)
      expect(await raw.nextPacket('connack')).to.include({returnCode: 0})
      expect((await raw.nextPacket('suback')).granted).to.deep.equal([0])
      const delivered = await raw.nextPacket('publish')
      expect(delivered.topic).to.equal('slow/big')
      expect(delivered.payload.length).to.equal(300)
      expect(await raw.nextPacket('puback')).to.include({packetId: 2})
    })

    it('closes a client that sends a malformed packet, and only that client', async () => {
      const bystander = await connectClient(broker.url, 'bystander')
      await bystander.subscribe('still/#')
      const bad = await new RawClient(broker.port).ready()
      expect(await bad.connect('bad-1')).to.include({returnCode: 0})
      const from = broker.proc.output.stdout.length
      bad.socket.write(Buffer.from([0x80, 0x06, 0x00, 0x01, 0x00, 0x01, 0x61, 0x00])) // SUBSCRIBE with flags 0000
      await bad.closed
      await broker.proc.waitFor('stdout', /client bad-1 disconnected \(malformed packet: SUBSCRIBE: invalid fixed header flags 0\)/, from)

      const message = nextMessage(bystander, 'still/alive')
      const publisher = await connectClient(broker.url, 'pub-after-malformed')
      await publisher.publish('still/alive', 'yes', {qos: 1})
      expect(await message).to.equal('yes')
      expect(bystander.connected).to.equal(true)
    })

    it('closes a connection whose first packet is not CONNECT', async () => {
      const raw = await new RawClient(broker.port).ready()
      raw.send({type: 'pingreq'})
      await raw.closed
      expect(raw.packets).to.deep.equal([])
    })

    it('answers protocol levels other than 4 with return code 1, then closes', async () => {
      const from = broker.proc.output.stdout.length
      const raw = await new RawClient(broker.port).ready()
      raw.send({type: 'connect', protocolName: 'MQIsdp', protocolLevel: 3, clientId: 'old-client'})
      expect(await raw.nextPacket('connack')).to.include({returnCode: 1})
      await raw.closed
      const mqtt5 = await new RawClient(broker.port).ready()
      mqtt5.send({type: 'connect', protocolLevel: 5, clientId: 'new-client'})
      expect(await mqtt5.nextPacket('connack')).to.include({returnCode: 1})
      await mqtt5.closed
      await broker.proc.waitFor('stdout', /connection refused: unsupported protocol MQTT level 5/, from)
    })

    it('answers PINGREQ, UNSUBSCRIBE and lets a new connection take over a client id', async () => {
      const first = await new RawClient(broker.port).ready()
      await first.connect('same-id')
      first.send({type: 'pingreq'})
      await first.nextPacket('pingresp')
      first.send({type: 'subscribe', packetId: 3, subscriptions: [{topic: 'x', qos: 0}]})
      await first.nextPacket('suback')
      first.send({type: 'unsubscribe', packetId: 4, topics: ['x']})
      expect(await first.nextPacket('unsuback')).to.include({packetId: 4})

      const second = await new RawClient(broker.port).ready()
      expect(await second.connect('same-id')).to.include({returnCode: 0})
      await first.closed
      second.send({type: 'pingreq'})
      await second.nextPacket('pingresp')
    })

    it('publishes the will of a client that vanishes without DISCONNECT', async () => {
      const watcher = await connectClient(broker.url, 'will-watcher')
      const will = nextMessage(watcher, 'devices/d1/status')
      await watcher.subscribe('devices/+/status')
      const device = await new RawClient(broker.port).ready()
      device.send({type: 'connect', clientId: 'd1', keepAlive: 0, will: {topic: 'devices/d1/status', payload: 'offline'}})
      await device.nextPacket('connack')
      device.socket.destroy()
      expect(await will).to.equal('offline')
    })
  })

  describe('broker.mjs on SIGTERM', () => {
    it('ends every client connection (FIN), sends nothing more, and exits 0', async () => {
      const broker = await startBroker()
      const first = await new RawClient(broker.port).ready()
      const second = await new RawClient(broker.port).ready()
      await first.connect('term-1')
      await second.connect('term-2')
      let bytesAfterSigterm = 0
      first.socket.on('data', (chunk) => (bytesAfterSigterm += chunk.length))
      const ended = Promise.all([once(first.socket, 'end'), once(second.socket, 'end')])
      broker.proc.kill('SIGTERM')
      await ended
      expect(bytesAfterSigterm).to.equal(0)
      // Our side is still open (half-close): the broker waits for it, then exits cleanly.
      first.socket.end()
      second.socket.end()
      expect(await broker.proc.exited).to.deep.equal({code: 0, signal: null})
      expect(broker.proc.output.stdout).to.match(/\[tcp-1\] SIGTERM received: closing 2 connection\(s\)/)
    })

    it('refuses to start without PORT, with a message saying why', async () => {
      const proc = startProcess(['broker.mjs'], {CONTAINER: 'tcp-1'})
      expect((await proc.exited).code).to.equal(1)
      expect(proc.output.stderr).to.match(/PORT is not set/)
    })
  })

  describe('web.mjs', () => {
    let broker: {proc: Proc; port: number; url: string}
    let web: Proc
    let base: string

    before(async () => {
      broker = await startBroker()
      const webPort = await freePort()
      web = startProcess(['web.mjs'], {PORT: String(webPort), TCP_URL: broker.url, CONTAINER: 'web-1', GREETING: 'hello from the test'})
      await web.waitFor('stdout', /\[web-1\] listening on \d+/)
      await web.waitFor('stdout', /connected to tcp:\/\/127\.0\.0\.1:\d+, subscribed to #/)
      base = `http://127.0.0.1:${webPort}`
    })

    after(() => {
      web.kill()
      broker.proc.kill()
    })

    it('answers /health with 200 ok', async () => {
      const response = await fetch(`${base}/health`)
      expect(response.status).to.equal(200)
      expect(await response.text()).to.equal('ok')
    })

    it('publishes a JSON POST through TCP_URL: an MQTT subscriber gets it and GET / lists it', async () => {
      const subscriber = await connectClient(broker.url, 'web-watcher')
      const delivered = nextMessage(subscriber, 'web/json')
      await subscriber.subscribe('web/+')
      const response = await fetch(`${base}/publish`, {
        method: 'POST',
        headers: {'content-type': 'application/json'},
        body: JSON.stringify({topic: 'web/json', message: 'posted <as> json'}),
      })
      expect(response.status).to.equal(200)
      expect(await response.json()).to.deep.equal({ok: true, topic: 'web/json', message: 'posted <as> json', retain: false})
      expect(await delivered).to.equal('posted <as> json')

      const page = await (await fetch(`${base}/`)).text()
      expect(page).to.include('<h1>hello from the test</h1>')
      expect(page).to.match(/<code>web\/json<\/code><\/td><td>posted &#60;as&#62; json<\/td>/)
    })

    it('publishes a form POST and redirects back to the page', async () => {
      const response = await fetch(`${base}/publish`, {
        method: 'POST',
        body: new URLSearchParams({topic: 'web/form', message: 'from the form'}),
        redirect: 'manual',
      })
      expect(response.status).to.equal(303)
      expect(response.headers.get('location')).to.equal('/')
      expect(await (await fetch(`${base}/`)).text()).to.include('from the form')
    })

    it('refuses a wildcard topic (400) and an unknown content type (415)', async () => {
      const wildcard = await fetch(`${base}/publish`, {method: 'POST', headers: {'content-type': 'application/json'}, body: '{"topic":"a/#","message":"x"}'})
      expect(wildcard.status).to.equal(400)
      const text = await fetch(`${base}/publish`, {method: 'POST', headers: {'content-type': 'text/plain'}, body: 'x'})
      expect(text.status).to.equal(415)
    })
  })

  describe('client.mjs', () => {
    it('sub prints "<topic> <payload>" lines for what pub publishes', async () => {
      const broker = await startBroker()
      const env = {TCP_URL: broker.url}
      const sub = startProcess(['client.mjs', 'sub', 'cli/#'], env)
      await sub.waitFor('stderr', /subscribed to cli\/# on tcp:\/\/127\.0\.0\.1:\d+/)
      const pub = startProcess(['client.mjs', 'pub', 'cli/greeting', 'hello', 'there'], env)
      expect((await pub.exited).code).to.equal(0)
      await sub.waitFor('stdout', /^cli\/greeting hello there\n/)
      sub.kill('SIGTERM')
      expect((await sub.exited).code).to.equal(0)
    })

    it('sub reconnects with backoff when the broker goes away, and resubscribes', async () => {
      const first = await startBroker()
      const env = {TCP_URL: first.url}
      const sub = startProcess(['client.mjs', 'sub', 'again/+'], env)
      await sub.waitFor('stderr', /subscribed to again\/\+/)
      first.proc.kill('SIGTERM')
      await sub.waitFor('stderr', /reconnecting to tcp:\/\/127\.0\.0\.1:\d+ in \d+ ms \(attempt 1\)/)
      await first.proc.exited

      const mark = sub.output.stderr.length
      const second = await startBroker(first.port)
      await sub.waitFor('stderr', /subscribed to again\/\+/, mark)
      const pub = startProcess(['client.mjs', 'pub', 'again/one', 'back'], env)
      expect((await pub.exited).code).to.equal(0)
      await sub.waitFor('stdout', /again\/one back\n/)
      sub.kill('SIGTERM')
      second.proc.kill()
    })

    it('exits 2 with the usage on a bad command line, 1 when no broker answers', async () => {
      const usage = startProcess(['client.mjs', 'publish', 'x'], {})
      expect((await usage.exited).code).to.equal(2)
      expect(usage.output.stderr).to.match(/unknown command "publish"[\s\S]*usage: node client.mjs sub/)

      const nobody = startProcess(['client.mjs', 'pub', '--retries', '1', 't', 'm'], {TCP_URL: `tcp://127.0.0.1:${await freePort()}`})
      expect((await nobody.exited).code).to.equal(1)
      expect(nobody.output.stderr).to.match(/reconnecting[\s\S]*error: could not publish to t: could not connect to/)
    })
  })
})
