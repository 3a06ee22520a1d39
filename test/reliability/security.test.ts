import {expect} from 'chai'
import {randomBytes} from 'node:crypto'
import {chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync} from 'node:fs'
import {spawn} from 'node:child_process'
import {request} from 'node:http'
import {connect} from 'node:net'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'

import {BIN, baseEnv, runCli, unwrap} from '../support/cli.js'
import {FakeScalingo} from '../support/fake-scalingo.js'
import {makeApp} from '../support/proxy.js'
import {report} from '../support/reliability.js'
import {closeSocket, echoOnce, Tracker} from '../support/sockets.js'

const TOKEN = `tk-us-${randomBytes(18).toString('hex')}`
const JWT = /eyJ[\w-]+\.[\w-]+\.[\w-]*/
const FAULTY = fileURLToPath(new URL('fixtures/faulty-server.mjs', import.meta.url))
const PRINTING = fileURLToPath(new URL('fixtures/printing-echo.mjs', import.meta.url))

describe('reliability: security', function () {
  this.timeout(30_000)
  let fake: FakeScalingo
  let home: string
  const tracker = new Tracker()

  before(async () => {
    fake = new FakeScalingo()
    await fake.start()
    fake.addUser(TOKEN)
    fake.addApp('my-app', {variables: {A: '1'}})
    fake.addTcpAddon('my-app')
    home = mkdtempSync(join(tmpdir(), 'scalingo-tcp-security-'))
  })

  afterEach(() => tracker.cleanup())
  after(async () => {
    await fake.stop()
    rmSync(home, {recursive: true, force: true})
  })

  const env = (extra: Record<string, string | undefined> = {}) => ({
    HOME: home,
    XDG_CONFIG_HOME: join(home, '.config'),
    ...fake.env(),
    ...extra,
  })

  it('never prints the token or a JWT: stdout, stderr, --debug, --json, errors', async () => {
    const runs = await Promise.all([
      runCli(['env', '-a', 'my-app', '--debug'], {env: env({SCALINGO_API_TOKEN: TOKEN})}),
      runCli(['env', '-a', 'my-app', '--json', '--debug'], {env: env({SCALINGO_API_TOKEN: TOKEN})}),
      runCli(['addons:tcp:info', '-a', 'my-app', '--json', '--debug'], {env: env({SCALINGO_API_TOKEN: TOKEN})}),
      runCli(['env', '-a', 'nope', '--debug'], {env: env({SCALINGO_API_TOKEN: TOKEN})}),
      runCli(['env', '-a', 'my-app', '--debug'], {env: env({SCALINGO_API_TOKEN: `${TOKEN}x`})}),
      // login handles the raw token (stdin, exchange, credentials file): its --debug trace too.
      runCli(['scalingo:login', '--api-token-stdin', '--debug'], {
        env: env({XDG_CONFIG_HOME: mkdtempSync(join(home, 'login-'))}),
        input: `${TOKEN}\n`,
      }),
    ])
    expect(runs.map((run) => run.code)).to.deep.equal([0, 0, 0, 4, 3, 0])
    expect(runs[5].stderr).to.match(/POST .*\/v1\/tokens\/exchange/)
    // --debug did log the requests (so the check below looks at real traffic).
    expect(runs[0].stderr).to.match(/GET .*\/v1\/apps\/my-app\/variables/)
    for (const run of runs) {
      for (const output of [run.stdout, run.stderr]) {
        expect(output).to.not.include(TOKEN.slice(6))
        expect(output).to.not.match(JWT)
      }
    }
  })

  it('stores the token 0600 in a 0700 directory, and refuses a token file readable by others', async () => {
    const login = await runCli(['scalingo:login', '--api-token-stdin'], {env: env(), input: `${TOKEN}\n`})
    expect(login.code, login.stderr).to.equal(0)
    expect(login.stdout + login.stderr).to.not.include(TOKEN)
    const file = join(home, '.config', 'scalingo-tcp', 'credentials.json')
    expect(statSync(file).mode & 0o777).to.equal(0o600)
    expect(statSync(join(home, '.config', 'scalingo-tcp')).mode & 0o777).to.equal(0o700)
    expect((await runCli(['env', '-a', 'my-app'], {env: env()})).code).to.equal(0)

    chmodSync(file, 0o640)
    const refused = await runCli(['env', '-a', 'my-app'], {env: env()})
    expect(refused.code).to.equal(3)
    expect(unwrap(refused.stderr)).to.include('it is readable by other users (mode 640)')
    expect(refused.stderr).to.include('chmod 600')
    expect(refused.stderr).to.not.include(TOKEN)
    chmodSync(file, 0o600)
  })

  it('binds the gateway and its control interface to 127.0.0.1; the state file is private and holds no API token', async () => {
    const app = makeApp(`tcp: node ${FAULTY}\n`)
    const proxy = tracker.proxy([], {cwd: app, env: {SCALINGO_API_TOKEN: TOKEN}})
    const listening = await proxy.waitFor((e) => e.event === 'gateway-listening')
    expect(listening.host).to.equal('127.0.0.1')
    await proxy.waitFor((e) => e.event === 'instance-ready')
    const control = await proxy.waitFor((e) => e.event === 'control-listening')
    expect(new URL(control.url as string).hostname).to.equal('127.0.0.1')
    expect(proxy.stderr).to.not.match(/reachable from the network/)
    const statePath = join(app, '.scalingo-tcp.json')
    const text = readFileSync(statePath, 'utf8')
    expect(text).to.not.include(TOKEN)
    expect(text).to.not.match(JWT)
    expect(statSync(statePath).mode & 0o077, 'state file readable by others').to.equal(0)
    const state = JSON.parse(text) as {url: string; token: string}
    expect(new URL(state.url).hostname).to.equal('127.0.0.1')
    // The control interface answers nothing without its token, and the right one works.
    const status = (headers: Record<string, string>) =>
      new Promise<number>((resolve, reject) => {
        request(new URL('/', state.url), {headers}, (res) => {
          res.resume()
          resolve(res.statusCode!)
        })
          .on('error', reject)
          .end()
      })
    expect(await status({})).to.equal(401)
    const lastCharChanged = state.token.slice(0, -1) + (state.token.endsWith('x') ? 'y' : 'x')
    expect(await status({authorization: `Bearer ${lastCharChanged}`})).to.equal(401)
    expect(await status({authorization: `Bearer ${state.token}`})).to.be.below(400)
  })

  it('warns when --host makes the gateway reachable from the network', async () => {
    const app = makeApp(`tcp: node ${FAULTY}\n`)
    const proxy = tracker.proxy(['--host', '0.0.0.0'], {cwd: app})
    const listening = await proxy.waitFor((e) => e.event === 'gateway-listening')
    expect(listening.host).to.equal('0.0.0.0')
    await proxy.waitFor((e) => e.event === 'instance-ready')
    expect(unwrap(proxy.stderr)).to.include('The gateway listens on 0.0.0.0: it is reachable from the network')
    // --host opens the gateway only: the control interface (it can stop and restart the app) stays local.
    const control = await proxy.waitFor((e) => e.event === 'control-listening')
    expect(new URL(control.url as string).hostname).to.equal('127.0.0.1')
  })

  it('nothing a client or an instance sends crashes the gateway or reaches a shell', async () => {
    const marker = `pwned-${randomBytes(4).toString('hex')}`
    const app = makeApp(
      `tcp: node ${FAULTY}\nnoisy: node -e "console.log('\\$(touch ${marker}) \\\`touch ${marker}\\\` ; touch ${marker} \\x1b]0;title\\x07 \\x00')"\n`,
    )
    const proxy = tracker.proxy([], {cwd: app})
    const port = await proxy.port()
    await proxy.waitFor((e) => e.event === 'instance-ready')
    await proxy.waitFor((e) => e.event === 'instance-exited' && e.instance === 'noisy-1')
    // Random bytes, shell syntax and a huge line from many clients at once.
    const payloads = [
      randomBytes(256 * 1024),
      Buffer.from(`$(touch ${marker}); \`touch ${marker}\`\n`),
      Buffer.alloc(1024 * 1024, 0xff),
    ]
    await Promise.all(
      Array.from(
        {length: 30},
        (_, i) =>
          new Promise<void>((resolve, reject) => {
            const payload = payloads[i % payloads.length]
            const socket = tracker.socket(connect({host: '127.0.0.1', port}))
            let received = 0
            socket.on('data', (chunk: Buffer) => {
              received += chunk.length
              if (received >= payload.length + 'tcp-1\n'.length) socket.end()
            })
            socket.on('error', reject)
            socket.on('close', () =>
              received === payload.length + 'tcp-1\n'.length ? resolve() : reject(new Error(`got ${received} bytes`)),
            )
            socket.write(payload)
          }),
      ),
    )
    expect(existsSync(join(app, marker))).to.equal(false)
    expect(proxy.alive).to.equal(true)
    expect(proxy.stderr).to.equal('')
  })

  it('redacting lines built to make a matcher backtrack does not stall new connections through the gateway', async function () {
    this.timeout(120_000)
    // Human output: that is where instance lines are redacted.
    const app = makeApp(`tcp: node ${PRINTING}\n`)
    const child = spawn(process.execPath, [BIN, 'tcp:proxy', '--port', '0'], {
      cwd: app,
      env: baseEnv(),
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let stdout = ''
    const waiters: Array<() => void> = []
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk
      for (const waiter of waiters.splice(0)) waiter()
    })
    const exited = new Promise((resolve) => child.on('exit', resolve))
    const output = (pattern: RegExp) =>
      new Promise<RegExpExecArray>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no ${pattern} in ${stdout.slice(-2000)}`)), 60_000)
        const check = () => {
          const match = pattern.exec(stdout)
          if (match) {
            clearTimeout(timer)
            resolve(match)
          } else waiters.push(check)
        }

        check()
      })

    try {
      const port = Number((await output(/listening on 127\.0\.0\.1:(\d+)/))[1])
      await output(/tcp-1 is ready/)
      // The worst time a new connection takes to echo through the gateway while the instance prints
      // three 60 KB lines of `kind` (probes one after another until the instance says it printed them all).
      const worstRoundTrip = async (kind: string) => {
        let printed = false
        void output(new RegExp(`printed ${kind}`)).then(() => (printed = true))
        const trigger = tracker.socket(connect({host: '127.0.0.1', port}))
        trigger.on('error', () => {})
        trigger.write(`print ${kind} 3\n`)
        let worst = 0
        for (let probes = 0; !printed || probes < 3; probes++) {
          const start = process.hrtime.bigint()
          const outcome = await echoOnce(port, 'ping\n', tracker)
          worst = Math.max(worst, Number(process.hrtime.bigint() - start) / 1e6)
          if (!outcome.ok) throw new Error(`probe failed: ${outcome.error}`)
          await closeSocket(outcome.socket)
        }

        return worst
      }

      const plain = await worstRoundTrip('plain')
      const adversarial = await worstRoundTrip('adversarial')
      report('redaction stall', {plainMs: Math.round(plain), adversarialMs: Math.round(adversarial)})
      // The lines were printed, each with its JWT hidden.
      expect(stdout.match(/tcp-1 +\| (eyJ-){15000} \[REDACTED\]\n/g)).to.have.length(3)
      expect(stdout.match(/tcp-1 +\| (abc-){15000} \[REDACTED\]\n/g)).to.have.length(3)
      expect(stdout).to.not.match(JWT)
      // A backtracking matcher held the gateway's event loop for seconds per line (about 2 s each here);
      // linear redaction keeps the adversarial lines as cheap as plain ones. 5x, and half a second, leave
      // room for a loaded machine.
      expect(adversarial).to.be.below(Math.max(5 * plain, 500))
    } finally {
      child.kill('SIGTERM')
      const timer = setTimeout(() => child.kill('SIGKILL'), 8000)
      await exited
      clearTimeout(timer)
    }
  })
})
