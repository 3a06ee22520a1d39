import {expect} from 'chai'
import {type ChildProcess, spawn} from 'node:child_process'
import {once} from 'node:events'
import type {Socket} from 'node:net'
import {fileURLToPath} from 'node:url'
import mqtt, {type MqttClient} from 'mqtt'

import {freePort} from '../../src/lib/gateway/ports.js'
import {baseEnv} from '../support/cli.js'
import {ProxyProcess} from '../support/proxy.js'

const EXAMPLE_DIR = fileURLToPath(new URL('../../examples/mqtt/', import.meta.url))

/** `node <script>` in the example's directory, whose output can be awaited. */
class Node {
  readonly child: ChildProcess
  out = ''
  readonly exited: Promise<number | null>
  private wake = (): void => {}

  constructor(args: string[], env: Record<string, string> = {}) {
    this.child = spawn(process.execPath, args, {cwd: EXAMPLE_DIR, env: {...baseEnv(), ...env}})
    for (const stream of [this.child.stdout!, this.child.stderr!]) {
      stream.setEncoding('utf8').on('data', (text: string) => {
        this.out += text
        this.wake()
      })
    }

    this.exited = once(this.child, 'exit').then(([code]) => (this.wake(), code as number | null))
  }

  /** Resolves once `pattern` has matched `count` times in stdout and stderr together. */
  waitFor(pattern: RegExp, count = 1): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${pattern} x${count} not seen:\n${this.out}`)), 15_000)
      this.wake = () => {
        if ([...this.out.matchAll(new RegExp(pattern, `${pattern.flags}g`))].length >= count) resolve()
        else if (this.child.exitCode === null) return
        else reject(new Error(`exited before ${pattern}:\n${this.out}`))
        clearTimeout(timer)
      }

      this.wake()
    })
  }
}

const localPort = (client: MqttClient) => (client.stream as unknown as Socket).localPort!

describe('examples/mqtt behind tcp:proxy (aedes broker, web through TCP_URL, mqtt.js clients)', () => {
  let proxy: ProxyProcess
  let tcpUrl: string
  let web: string
  const clients: MqttClient[] = []
  const processes: Node[] = []
  const connect = (clientId: string): MqttClient => {
    const client = mqtt.connect(tcpUrl, {clientId, reconnectPeriod: 50, resubscribe: false})
    clients.push(client)
    return client
  }

  const webSubscriptions = () =>
    proxy.events.filter((e) => e.event === 'output' && /\[web-1\] connected to .*, subscribed to #/.test(e.line)).length
  const generationOf = (port: number | undefined) =>
    proxy.events.find((e) => e.event === 'connection-opened' && e.client === `127.0.0.1:${port}`)?.generation as
      number | undefined
  const post = (body: object) =>
    fetch(`${web}/publish`, {method: 'POST', headers: {'content-type': 'application/json'}, body: JSON.stringify(body)})

  before(async () => {
    const webPort = await freePort()
    web = `http://127.0.0.1:${webPort}`
    proxy = ProxyProcess.start(['--web-port', String(webPort)], {cwd: EXAMPLE_DIR})
    tcpUrl = (await proxy.waitForEvent('gateway-listening')).tcpUrl
    await proxy.waitFor(() => webSubscriptions() === 1)
  })

  afterEach(async () => {
    await Promise.all(clients.splice(0).map((client) => client.endAsync(true)))
    for (const proc of processes.splice(0)) proc.child.kill('SIGKILL')
  })

  after(() => proxy?.cleanup())

  it('web: a JSON POST reaches an MQTT subscriber through TCP_URL and GET / lists it; a form POST redirects; bad input is refused', async () => {
    const subscriber = connect('web-watcher')
    await subscriber.subscribeAsync('web/+', {qos: 1})
    const delivered = new Promise<string[]>((resolve) =>
      subscriber.once('message', (topic, payload) => resolve([topic, String(payload)])),
    )
    const response = await post({topic: 'web/json', message: 'posted <as> json'})
    expect(await response.json()).to.deep.equal({
      ok: true,
      topic: 'web/json',
      message: 'posted <as> json',
      retain: false,
    })
    expect(await delivered).to.deep.equal(['web/json', 'posted <as> json'])

    const form = await fetch(`${web}/publish`, {
      method: 'POST',
      body: new URLSearchParams({topic: 'web/form', message: 'from the form'}),
      redirect: 'manual',
    })
    expect([form.status, form.headers.get('location')]).to.deep.equal([303, '/'])
    const page = await (await fetch(`${web}/`)).text()
    expect(page)
      .to.include('<h1>hello from .env</h1>')
      .and.match(/<code>web\/json<\/code><\/td><td>posted &#60;as&#62; json</)
    expect(page).to.include('from the form')
    expect(await (await fetch(`${web}/health`)).text()).to.equal('ok')

    for (const [status, init] of [
      [400, {method: 'POST', headers: {'content-type': 'application/json'}, body: '{"topic":"a/#","message":"x"}'}],
      [415, {method: 'POST', headers: {'content-type': 'text/plain'}, body: 'x'}],
      [405, {method: 'DELETE'}],
    ] as const) {
      expect((await fetch(`${web}/publish`, init)).status, JSON.stringify(init)).to.equal(status)
    }
  })

  it('client.mjs: sub prints what pub publishes; exit 2 on a bad command line, 1 when no broker answers', async () => {
    const usage = new Node(['client.mjs', 'publish', 'x'])
    const nobody = new Node(['client.mjs', 'pub', '--retries', '1', 't', 'm'], {
      TCP_URL: `tcp://127.0.0.1:${await freePort()}`,
    })
    const sub = new Node(['client.mjs', 'sub', 'cli/#'], {TCP_URL: tcpUrl})
    processes.push(sub)
    await sub.waitFor(/subscribed to cli\/# on tcp:\/\/127\.0\.0\.1:\d+/)
    expect(await new Node(['client.mjs', 'pub', 'cli/greeting', 'hello', 'there'], {TCP_URL: tcpUrl}).exited).to.equal(
      0,
    )
    await sub.waitFor(/^cli\/greeting hello there$/m)
    sub.child.kill('SIGTERM')
    expect(await sub.exited).to.equal(0)

    expect(await usage.exited).to.equal(2)
    expect(usage.out).to.match(/unknown command "publish"[\s\S]*usage: node client.mjs sub/)
    expect(await nobody.exited).to.equal(1)
    expect(nobody.out).to.match(/reconnecting[\s\S]*error: could not publish to t: no broker answered/)
  })

  it('the broker refuses to start without PORT, saying why', async () => {
    const broker = new Node(['broker.mjs'])
    expect(await broker.exited).to.equal(1)
    expect(broker.out).to.match(/PORT is not set/)
  })

  it('rolling restarts: every QoS 1 message a broker acknowledged reaches the subscriber it had; clients, web and sub carry on', async function () {
    this.timeout(120_000)
    const RESTARTS = 3
    // When the subscriber's SUBACK came, by the local port of its connection (each connection is one generation's broker).
    const subscribedAt = new Map<number, number>()
    const received = new Set<string>()
    const sent: Array<{n: number; at: number; done?: boolean; port?: number; error?: Error}> = []
    let wake = (): unknown => 0
    const until = (check: () => boolean, what: string, ms = 30_000) =>
      new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), ms)
        wake = () => check() && (clearTimeout(timer), resolve())
        wake()
      })

    const subscriber = connect('restart-sub')
    subscriber.on('message', (_topic, payload) => (received.add(String(payload)), wake()))
    subscriber.on('connect', () => {
      const port = localPort(subscriber)
      subscriber.subscribe(
        'restart/#',
        {qos: 1},
        (error) => error || (subscribedAt.set(port, performance.now()), wake()),
      )
    })
    const cliSub = new Node(['client.mjs', 'sub', 'after/#'], {TCP_URL: tcpUrl})
    processes.push(cliSub)
    await cliSub.waitFor(/subscribed to after\/#/)

    // 32 publishes always in flight, each sent again by mqtt.js after a reconnect until some broker acknowledges it.
    const publisher = connect('restart-pub')
    let publisherPort = 0 // read at CONNACK: a closed socket no longer tells its port
    publisher.on('packetreceive', (packet) => packet.cmd === 'connack' && (publisherPort = localPort(publisher)))
    let publishing = true
    const publishNext = () => {
      if (!publishing) return
      const message: (typeof sent)[number] = {n: sent.length, at: performance.now()}
      sent.push(message)
      publisher.publish(`restart/${message.n}`, String(message.n), {qos: 1}, (error) => {
        Object.assign(message, {done: true, error, port: publisherPort})
        wake()
        publishNext()
      })
    }

    for (let i = 0; i < 32; i++) publishNext()
    // Acknowledged by generation g and published after the subscriber's SUBACK from g: g must deliver it.
    const mustArrive = (m: (typeof sent)[number]) => {
      if (!m.done || m.error) return false
      const generation = generationOf(m.port)
      return [...subscribedAt].some(([port, at]) => generationOf(port) === generation && at < m.at)
    }

    const flowing = (generation: number) =>
      sent.filter((m) => m.done && generationOf(m.port) === generation && mustArrive(m)).length >= 50
    await until(() => flowing(1), 'messages through generation 1')
    for (let restart = 1; restart <= RESTARTS; restart++) {
      proxy.child.kill('SIGHUP')
      await proxy.waitFor((e) => e.event === 'restart-completed' && e.generation === restart + 1)
      await until(() => flowing(restart + 1), `messages through generation ${restart + 1}`)
      // The slow reconnecters (500 ms) are back before the next restart: otherwise one could skip a generation,
      // reconnecting only once the next one is already serving, and a count per generation would mean nothing.
      await cliSub.waitFor(/subscribed to after\/#/, restart + 1)
      await proxy.waitFor(() => webSubscriptions() === restart + 1)
    }

    publishing = false
    await until(() => sent.every((m) => m.done), 'every publish acknowledged')
    expect(sent.filter((m) => m.error).map((m) => `${m.n}: ${m.error}`)).to.deep.equal([])
    const required = sent.filter((m) => mustArrive(m)).map((m) => String(m.n))
    await until(() => required.every((n) => received.has(n)), `the ${required.length} messages`, 10_000).catch(() => {})
    expect(
      required.filter((n) => !received.has(n)),
      `lost of ${required.length} acknowledged`,
    ).to.deep.equal([])

    // One connection per generation for each client: every old broker closed its connections itself, then exited 0.
    expect([...subscribedAt.keys()].map(generationOf)).to.deep.equal([1, 2, 3, 4])
    const exits = proxy.events.filter((e) => e.event === 'instance-exited' && e.instance === 'tcp-1')
    expect(exits.map((e) => [e.generation, e.code, e.expected])).to.deep.equal([
      [1, 0, true],
      [2, 0, true],
      [3, 0, true],
    ])
    expect(proxy.events.filter((e) => e.event === 'connections-dropped')).to.deep.equal([])

    // The CLI subscriber and the web process reconnected and subscribed again on each new broker.
    await cliSub.waitFor(/subscribed to after\/#/, RESTARTS + 1)
    await proxy.waitFor(() => webSubscriptions() === RESTARTS + 1)
    expect((await post({topic: 'after/restarts', message: 'still here'})).status).to.equal(200)
    await cliSub.waitFor(/^after\/restarts still here$/m)
    expect(await (await fetch(`${web}/`)).text()).to.include('still here')
    console.log(
      `[figures] ${sent.length} QoS 1 publishes over ${RESTARTS} rolling restarts, ${required.length} with a subscriber on the acknowledging broker: all delivered`,
    )
  })
})
