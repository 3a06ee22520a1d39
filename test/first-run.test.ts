import {expect} from 'chai'
import {type ChildProcess, spawn} from 'node:child_process'
import mqtt, {type MqttClient} from 'mqtt'

import {freePort} from '../src/lib/gateway/ports.js'
import {baseEnv, ROOT} from './support/cli.js'

type Event = Record<string, any> & {event: string}

/**
 * `npm start` (the README's one command) with the ports overridden so it can run next to anything,
 * and --json so the test reads events instead of log lines.
 */
describe('first run: npm start', () => {
  let child: ChildProcess
  let client: MqttClient | undefined
  const events: Event[] = []
  let waiters: Array<() => void> = []

  function waitFor(match: (e: Event) => boolean, timeoutMs = 15_000): Promise<Event> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const found = events.find(match)
        if (!found) return
        clearTimeout(timer)
        waiters = waiters.filter((w) => w !== check)
        resolve(found)
      }

      const timer = setTimeout(
        () => reject(new Error(`no matching event; got:\n${events.map((e) => JSON.stringify(e)).join('\n')}`)),
        timeoutMs,
      )
      waiters.push(check)
      check()
    })
  }

  /** Connects `client` through the gateway and subscribes; `received` is the first payload on `topic`. */
  async function subscribeThroughGateway(
    tcpUrl: string,
    filter: string,
    topic: string,
  ): Promise<{received: Promise<string>}> {
    const subscriber = await mqtt.connectAsync(tcpUrl, {reconnectPeriod: 50})
    client = subscriber
    const received = new Promise<string>((resolve) => {
      subscriber.on('message', (arrived, payload) => {
        if (arrived === topic) resolve(payload.toString('utf8'))
      })
    })
    await subscriber.subscribeAsync(filter, {qos: 1})
    return {received}
  }

  let webPort = 0

  before(async () => {
    webPort = await freePort()
    child = spawn('npm', ['start', '--silent', '--', '--port', '0', '--web-port', String(webPort), '--json'], {
      cwd: ROOT,
      env: {...baseEnv(), HOME: process.env.HOME ?? ROOT},
      detached: true, // its own process group: npm, the CLI and the example's processes are stopped together
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let buffer = ''
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      buffer += chunk
      const lines = buffer.split('\n')
      buffer = lines.pop()!
      for (const line of lines) if (line.startsWith('{')) events.push(JSON.parse(line))
      for (const waiter of waiters) waiter()
    })
  })

  afterEach(async () => {
    await client?.endAsync(true).catch(() => {})
    client = undefined
  })

  after(async () => {
    if (child?.exitCode === null) {
      const exited = new Promise((resolve) => child.once('close', resolve))
      process.kill(-child.pid!, 'SIGTERM')
      await exited
    }
  })

  it('starts the example behind the gateway and tells the user how to try it', async () => {
    const listening = await waitFor((e) => e.event === 'gateway-listening')
    expect(listening.tcpUrl).to.match(/^tcp:\/\/127\.0\.0\.1:\d+$/)
    await waitFor((e) => e.event === 'instance-ready' && e.instance === 'tcp-1')
    const hint = await waitFor(
      (e) => e.event === 'output' && e.instance === 'web-1' && /node \S*client\.mjs pub /.test(e.line),
    )
    expect(hint.line).to.include(`TCP_URL=${listening.tcpUrl} node examples/mqtt/client.mjs pub sensors/kitchen 21.5`)
  })

  it('carries an MQTT publish/subscribe round trip through the gateway', async () => {
    const {tcpUrl} = await waitFor((e) => e.event === 'gateway-listening')
    const {received} = await subscribeThroughGateway(tcpUrl, 'sensors/#', 'sensors/kitchen')
    await client!.publishAsync('sensors/kitchen', '21.5', {qos: 1})
    expect(await received).to.equal('21.5')
    // The broker saw the client arrive through the gateway.
    expect(events.some((e) => e.event === 'output' && e.instance === 'tcp-1' && /connected/.test(e.line))).to.equal(
      true,
    )
  })

  it('has the web process reach the broker through TCP_URL: a message posted to web reaches an MQTT subscriber', async () => {
    const {tcpUrl} = await waitFor((e) => e.event === 'gateway-listening')
    await waitFor((e) => e.event === 'instance-starting' && e.instance === 'web-1')
    const {received} = await subscribeThroughGateway(tcpUrl, 'web/+', 'web/first-run')
    await waitFor((e) => e.event === 'output' && e.instance === 'web-1' && /node \S*client\.mjs pub /.test(e.line))
    const response = await fetch(`http://127.0.0.1:${webPort}/publish`, {
      method: 'POST',
      headers: {'content-type': 'application/json'},
      body: JSON.stringify({topic: 'web/first-run', message: 'from web'}),
    })
    expect(response.status).to.equal(200)
    expect(await received).to.equal('from web')
  })
})
