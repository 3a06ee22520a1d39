import {expect} from 'chai'
import {spawn} from 'node:child_process'
import {randomBytes} from 'node:crypto'
import {readFileSync, rmSync} from 'node:fs'
import {join} from 'node:path'

import {baseEnv, BIN, ROOT} from './support/cli.js'
import {FakeScalingo} from './support/fake-scalingo.js'
import {liveGroupMembers, waitUntilNoLiveMembers} from './support/processes.js'
import {makeApp, SERVERS} from './support/proxy.js'
import {stripAnsi, TtyCli} from './support/tty.js'

const TOKEN = `tk-us-${randomBytes(18).toString('hex')}`

// tcp:proxy started (the control interface is its last step) and the instance's own "listening" line
// shown: readiness is a connect to its port, which can beat that line through the instance's stdout pipe.
const STARTED = /(?=[^]*tcp-1 is ready[^]*control interface on)(?=[^]*tcp-1\s*\| listening on)/

/** Runs a bash pipeline; resolves with its output and the exit code of each command (PIPESTATUS). */
function pipeline(script: string, env: Record<string, string>, cwd = ROOT) {
  return new Promise<{stdout: string; stderr: string; statuses: number[]}>((resolve, reject) => {
    const child = spawn('bash', ['-c', `${script}; echo "PIPESTATUS=\${PIPESTATUS[*]}" >&2`], {
      cwd,
      env: {...baseEnv(), ...env},
    })
    let stdout = ''
    let stderr = ''
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d))
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d))
    child.on('error', reject)
    child.on('close', () => {
      const statuses = /PIPESTATUS=([\d ]+)/.exec(stderr)?.[1].split(' ').map(Number) ?? []
      resolve({stdout, stderr: stderr.replace(/PIPESTATUS=.*\n/, ''), statuses})
    })
  })
}

async function groupGone(pgid: number, deadlineMs: number): Promise<boolean> {
  const deadline = Date.now() + deadlineMs
  for (;;) {
    try {
      process.kill(-pgid, 0)
    } catch {
      return true
    }

    if (Date.now() > deadline) return false
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

describe('terminal manners', () => {
  let fake: FakeScalingo
  let env: Record<string, string>

  before(async () => {
    fake = new FakeScalingo()
    await fake.start()
    fake.addUser(TOKEN)
    const variables: Record<string, string> = {}
    // Far more than a pipe buffer (64 KiB), so `head` closes the pipe while env is still writing.
    for (let i = 0; i < 20_000; i++) variables[`VAR_${String(i).padStart(5, '0')}`] = 'x'.repeat(40)
    fake.addApp('big-app', {variables})
    env = {...fake.env(), SCALINGO_API_TOKEN: TOKEN}
  })

  const dirs: string[] = []

  after(async () => {
    await fake?.stop()
    for (const dir of dirs) rmSync(dir, {recursive: true, force: true})
  })

  describe('piped into head', () => {
    for (const [flags, first] of [
      ['', `VAR_00000=${'x'.repeat(40)}`],
      ['--shell', `export VAR_00000='${'x'.repeat(40)}'`],
      ['--json', '{'],
    ] as const) {
      it(`env -a big-app ${flags} | head -1: prints the first line, exits 0 without an EPIPE trace`, async () => {
        const result = await pipeline(`"${process.execPath}" "${BIN}" env -a big-app ${flags} | head -1`, env)
        expect(result.stdout).to.equal(`${first}\n`)
        expect(result.stderr).to.equal('')
        expect(result.statuses).to.deep.equal([0, 0])
      })
    }

    it('scripts as with the Scalingo CLI: grep, cut and jq read the output', async () => {
      const cli = `"${process.execPath}" "${BIN}"`
      const grep = await pipeline(`${cli} env -a big-app | grep '^VAR_00042=' | cut -d= -f2`, env)
      expect(grep.stdout).to.equal(`${'x'.repeat(40)}\n`)
      const jq = await pipeline(`${cli} env -a big-app --json | jq -r '.VAR_00042 | length'`, env)
      expect(jq.stdout).to.equal('40\n')
      const app = await pipeline(`${cli} env VAR_00042 | wc -c`, {...env, SCALINGO_APP: 'big-app'})
      expect(app.stdout.trim()).to.equal('41')
    })

    it('tcp:proxy --json | head -3: stops gracefully (instances stopped, exit 0, nothing on stderr)', async function () {
      this.timeout(30_000)
      const dir = makeApp(`tcp: node ${SERVERS}echo-server.mjs\n`)
      dirs.push(dir)
      const result = await pipeline(
        `"${process.execPath}" "${BIN}" tcp:proxy --json --port 0 --grace 5s | head -3`,
        {HOME: dir},
        dir,
      )
      const events = result.stdout
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line))
      // The third line is the instance's first output or its readiness, whichever the event loop sees first.
      expect(events.map((e) => e.event).slice(0, 2)).to.deep.equal(['gateway-listening', 'instance-starting'])
      expect(events[2].event).to.be.oneOf(['output', 'instance-ready'])
      expect(result.stderr).to.equal('')
      expect(result.statuses).to.deep.equal([0, 0])
      // The instance's process group is gone: stopped, not orphaned. Polled (no event to wait on):
      // the exited leader may linger a moment as a zombie until init reaps it.
      expect(await groupGone(events[1].pid, 3000), `process group ${events[1].pid} still alive`).to.equal(true)
    })
  })

  describe('spinners and colours only on a terminal', () => {
    const ttys: TtyCli[] = []
    // ora's default spinner frames, and the codes that hide and show the cursor while it spins.
    // eslint-disable-next-line no-control-regex
    const SPINNER = /[⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏]|\u001B\[\?25[lh]/
    // eslint-disable-next-line no-control-regex
    const COLOUR = /\u001B\[(3\d|9\d|1|2)m/

    before(() => {
      fake.addApp('spin-app')
      fake.setFormation('spin-app', [{name: 'tcp', amount: 1}])
      fake.addTcpAddon('spin-app')
    })

    afterEach(() => {
      for (const tty of ttys.splice(0)) tty.kill()
    })

    const restartOnTty = (args: string[], extraEnv: Record<string, string> = {}) => {
      const tty = new TtyCli(['addons:tcp:restart', '-a', 'spin-app', ...args], {env: {...env, ...extraEnv}})
      ttys.push(tty)
      return tty
    }

    it('piped: plain status lines on stderr, no spinner frame, no escape code at all', async () => {
      const result = await pipeline(`"${process.execPath}" "${BIN}" addons:tcp:restart -a spin-app 2>&1 | cat`, env)
      expect(result.statuses).to.deep.equal([0, 0])
      expect(result.stdout).to.include('Restarting the tcp containers of spin-app')
      expect(result.stdout).to.match(/The tcp containers of spin-app restarted in /)
      expect(result.stdout).not.to.match(SPINNER)
      expect(result.stdout).not.to.include('\u001B')
    })

    it('on a terminal: a spinner, ticked off in colour', async () => {
      const tty = restartOnTty([])
      expect(await tty.exited).to.equal(0)
      expect(tty.output).to.match(SPINNER)
      expect(tty.output).to.match(COLOUR)
      expect(stripAnsi(tty.output)).to.match(/✔ The tcp containers of spin-app restarted in /)
    })

    it('on a terminal with NO_COLOR=1, or with --no-color: the spinner still turns, without colour', async () => {
      for (const tty of [restartOnTty([], {NO_COLOR: '1'}), restartOnTty(['--no-color'])]) {
        expect(await tty.exited).to.equal(0)
        expect(tty.output).to.match(SPINNER)
        expect(tty.output).not.to.match(COLOUR)
      }
    })
  })

  describe('colours and Ctrl-C', () => {
    const ttys: TtyCli[] = []
    let app: string

    before(() => {
      app = makeApp(`tcp: node ${SERVERS}echo-server.mjs\n`)
      dirs.push(app)
    })

    afterEach(() => {
      for (const tty of ttys.splice(0)) tty.kill()
    })

    const proxyOnTty = (args: string[], extraEnv: Record<string, string> = {}) => {
      const tty = new TtyCli(['tcp:proxy', '--port', '0', '--grace', '5s', ...args], {
        cwd: app,
        env: {HOME: app, ...extraEnv},
      })
      ttys.push(tty)
      return tty
    }

    // A coloured instance prefix: an SGR colour code right before "tcp-1".
    // eslint-disable-next-line no-control-regex -- the escape codes are what this test looks for
    const COLOURED_PREFIX = /\u001B\[3\dm(\u001B\[\d+m)*tcp-1/

    it('on a terminal: coloured prefixes; Ctrl-C stops gracefully with exit 0', async () => {
      const tty = proxyOnTty([])
      // Once started: a Ctrl-C during start-up is an interruption (130), not a normal stop.
      await tty.waitFor(STARTED)
      expect(tty.output).to.match(COLOURED_PREFIX)
      tty.type('\u0003')
      expect(await tty.exited).to.equal(0)
      expect(stripAnsi(tty.output)).to.include('SIGTERM received')
    })

    it('on a terminal with NO_COLOR=1, or with --no-color: no colour codes', async () => {
      // one after the other: a second tcp:proxy in the same directory refuses to start
      for (const start of [() => proxyOnTty([], {NO_COLOR: '1'}), () => proxyOnTty(['--no-color'])]) {
        const tty = start()
        await tty.waitFor(STARTED)
        expect(tty.output).not.to.match(COLOURED_PREFIX)
        tty.type('\u0003')
        expect(await tty.exited).to.equal(0)
      }
    })

    it('a second Ctrl-C forces the stop: exit 130', async () => {
      const stubborn = makeApp(`tcp: node ${SERVERS}ignore-sigterm.mjs\n`)
      dirs.push(stubborn)
      const tty = new TtyCli(['tcp:proxy', '--port', '0', '--grace', '30s'], {cwd: stubborn, env: {HOME: stubborn}})
      ttys.push(tty)
      await tty.waitFor(STARTED)
      tty.type('\u0003')
      await tty.waitFor(/ignoring SIGTERM/)
      tty.type('\u0003')
      expect(await tty.exited).to.equal(130)
    })

    it('scalingo:login: Ctrl-C at the token prompt exits 130 without a stack trace', async () => {
      const tty = new TtyCli(['scalingo:login'], {cwd: app, env: {HOME: app, ...env}})
      ttys.push(tty)
      await tty.waitFor(/Scalingo API token/)
      tty.type('\u0003')
      expect(await tty.exited).to.equal(130)
      expect(stripAnsi(tty.output)).not.to.match(/\n\s+at /)
    })

    it('env: Ctrl-C while waiting for the API ends it as interrupted (130 for the shell), no stack trace', async () => {
      let arrived!: () => void
      const requestArrived = new Promise<void>((resolve) => (arrived = resolve))
      fake.failNext(
        (req) => {
          if (req.path !== '/v1/apps/big-app/variables') return false
          arrived()
          return true
        },
        {delayMs: 15_000},
      )
      const child = spawn(process.execPath, [BIN, 'env', '-a', 'big-app'], {
        env: {...baseEnv(), ...env},
        detached: true,
      })
      let stderr = ''
      child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d))
      const exited = new Promise<{code: number | null; signal: NodeJS.Signals | null}>((resolve) =>
        child.on('close', (code, signal) => resolve({code, signal})),
      )
      await requestArrived
      process.kill(-child.pid!, 'SIGINT') // what Ctrl-C does: SIGINT to the foreground process group
      const {code, signal} = await exited
      expect(code === 130 || signal === 'SIGINT', `code ${code}, signal ${signal}`).to.equal(true)
      expect(stderr).not.to.match(/\n\s+at /)
      fake.clearFailures()
    })
  })
  describe('terminal hangup', () => {
    const ttys: TtyCli[] = []
    let echoApp: string

    before(() => {
      echoApp = makeApp(`tcp: node ${SERVERS}echo-server.mjs\n`)
      dirs.push(echoApp)
    })

    afterEach(() => {
      for (const tty of ttys.splice(0)) tty.kill()
    })

    /** The pid (and process group) of every instance the terminal showed starting. */
    const instancePids = (tty: TtyCli) =>
      [...stripAnsi(tty.output).matchAll(/starting \S+ \(generation \d+, pid (\d+)/g)].map((m) => Number(m[1]))

    it('closing the terminal stops everything as SIGTERM does: SIGTERM, SIGKILL after --grace, nothing left, a clean exit 0', async function () {
      this.timeout(40_000)
      // worker ignores SIGTERM: only SIGKILL, after the grace period, ends it
      const dir = makeApp(`tcp: node ${SERVERS}echo-server.mjs\nworker: node ${SERVERS}ignore-sigterm.mjs\n`)
      dirs.push(dir)
      const marker = join(dir, 'sigterm-received')
      const tty = new TtyCli(['tcp:proxy', '--port', '0', '--grace', '2s'], {
        cwd: dir,
        env: {HOME: dir, SIGTERM_FILE: marker},
      })
      ttys.push(tty)
      await tty.waitFor(STARTED)
      await tty.waitFor(/worker-1\s*\| listening on/)
      const pids = instancePids(tty)
      expect(pids).to.have.length(2)
      const closedAt = Date.now()
      tty.hangup()
      // the CLI's own exit status: a crash (uncaught EIO, Node's abort at exit, SIGSEGV) shows here
      expect(await tty.status).to.deep.equal({code: 0, signal: null})
      const tookMs = Date.now() - closedAt
      expect(readFileSync(marker, 'utf8')).to.match(/^SIGTERM \d+/)
      for (const pid of pids) await waitUntilNoLiveMembers(pid)
      // the stubborn worker was given its grace before the SIGKILL, and no more than that
      expect(tookMs).to.be.within(1900, 2000 + 8000)
    })

    it('a SIGHUP sent on purpose while the terminal is fine is still a rolling restart', async function () {
      this.timeout(40_000)
      const tty = new TtyCli(['tcp:proxy', '--port', '0', '--grace', '5s'], {cwd: echoApp, env: {HOME: echoApp}})
      ttys.push(tty)
      await tty.waitFor(STARTED)
      process.kill(await tty.pid, 'SIGHUP')
      await tty.waitFor(/rolling restart to generation 2 \(SIGHUP\)/)
      await tty.waitFor(/rolling restart to generation 2 done/, 20_000)
      expect(stripAnsi(tty.output)).not.to.include('shutting down')
      tty.type('q')
      expect(await tty.status).to.deep.equal({code: 0, signal: null})
      for (const pid of instancePids(tty)) expect(liveGroupMembers(pid), `group ${pid}`).to.deep.equal([])
    })

    it('a hangup during a stop that waits for a stubborn instance changes nothing: still its grace, still exit 0', async function () {
      this.timeout(40_000)
      const dir = makeApp(`tcp: node ${SERVERS}ignore-sigterm.mjs\n`)
      dirs.push(dir)
      const tty = new TtyCli(['tcp:proxy', '--port', '0', '--grace', '2s'], {cwd: dir, env: {HOME: dir}})
      ttys.push(tty)
      await tty.waitFor(/control interface on/)
      tty.type('q')
      await tty.waitFor(/ignoring SIGTERM/)
      tty.hangup()
      expect(await tty.status).to.deep.equal({code: 0, signal: null})
      for (const pid of instancePids(tty)) await waitUntilNoLiveMembers(pid)
    })
  })
})
