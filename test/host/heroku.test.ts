/*
 * The plugin inside the real Heroku CLI (npm package heroku@11, oclif v4), as its users run it: `heroku@11` is
 * installed from the registry once into a cache directory and reused by later runs; the plugin is linked
 * (`plugins:link`) into one host data directory and installed from `npm pack` (`plugins:install file:...`) into
 * another. Every host runs with its data, config and cache directories (and HOME) under a temp directory.
 *
 * The host's own noise is off (HEROKU_DISABLE_AUTOUPDATE, HEROKU_SKIP_NEW_VERSION_CHECK, DISABLE_TELEMETRY, the
 * terms-of-service banner marked as seen) except where it is what is tested: tcp:proxy's signals run with the
 * telemetry on, since its SIGINT/SIGTERM listeners (process.exit(1)) are what tcp:proxy must survive. Telemetry
 * sends to Heroku's and Sentry's servers, so those runs are in a network namespace of their own with only a
 * loopback interface (unshare -n, ip from iproute2): nothing they try leaves the machine.
 */
import {expect} from 'chai'
import {type ChildProcess, execFile, spawn} from 'node:child_process'
import {randomBytes} from 'node:crypto'
import {existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync} from 'node:fs'
import {homedir, tmpdir} from 'node:os'
import {join} from 'node:path'
import {promisify} from 'node:util'

import {baseEnv, npmEnv, ROOT, unwrap} from '../support/cli.js'
import {FakeScalingo} from '../support/fake-scalingo.js'
import {killGroup} from '../support/processes.js'
import {emptyAppRoot, ProxyProcess, SERVERS} from '../support/proxy.js'

const execFileP = promisify(execFile)
const MAJOR = 11
const CACHE = join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'scalingo-tcp-test', `heroku-${MAJOR}`)
const HEROKU = join(CACHE, 'node_modules', 'heroku')
const HEROKU_BIN = join(HEROKU, 'bin', 'run.js')
const INSTALL_TIMEOUT_MS = 8 * 60_000
const TOKEN = `tk-us-${randomBytes(18).toString('hex')}`
const OUR_COMMANDS = [
  'addons:tcp:create',
  'addons:tcp:destroy',
  'addons:tcp:info',
  'addons:tcp:restart',
  'env',
  'scalingo:login',
  'scalingo:logout',
  'tcp:proxy',
]

let installing: ChildProcess | undefined
// mocha --exit ends the process without waiting: an install still running goes with it, its whole group.
process.on('exit', () => installing?.pid && killGroup(installing.pid))

function installedMajor(): number | undefined {
  try {
    return Number(JSON.parse(readFileSync(join(HEROKU, 'package.json'), 'utf8')).version.split('.')[0])
  } catch {
    return undefined
  }
}

/**
 * heroku@11 in the cache directory, installed there when missing: into a temp directory renamed into place only
 * once complete (an interrupted install is never reused), bounded by a timeout that kills npm's whole process group.
 */
async function ensureHeroku(): Promise<void> {
  if (installedMajor() === MAJOR) return
  const partial = `${CACHE}.partial-${process.pid}`
  rmSync(partial, {recursive: true, force: true})
  mkdirSync(partial, {recursive: true})
  writeFileSync(
    join(partial, 'package.json'),
    JSON.stringify({private: true, description: 'heroku@11 for scalingo-tcp tests'}) + '\n',
  )
  const child = spawn('npm', ['install', '--no-audit', '--no-fund', '--loglevel=error', `heroku@${MAJOR}`], {
    cwd: partial,
    env: {PATH: process.env.PATH!, HOME: homedir(), TMPDIR: tmpdir(), ...npmEnv(), npm_config_update_notifier: 'false'},
    detached: true,
    stdio: ['ignore', 'ignore', 'pipe'],
  })
  installing = child
  let stderr = ''
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr = (stderr + d).slice(-4000)))
  const timer = setTimeout(() => killGroup(child.pid!), INSTALL_TIMEOUT_MS)
  const code = await new Promise<number | null>((resolve, reject) => {
    child.on('error', reject)
    child.on('close', (c) => resolve(c))
  }).finally(() => {
    clearTimeout(timer)
    installing = undefined
  })
  if (code !== 0) {
    rmSync(partial, {recursive: true, force: true})
    throw new Error(
      `npm install heroku@${MAJOR} failed (exit ${code}${code === null ? `, killed after ${INSTALL_TIMEOUT_MS / 1000} s` : ''}): ${stderr}`,
    )
  }

  rmSync(CACHE, {recursive: true, force: true})
  renameSync(partial, CACHE)
}

interface Result {
  code: number | null
  stdout: string
  stderr: string
}

/** One Heroku CLI: its HOME, data, config and cache under `dir`, the host's noise off. */
class Host {
  readonly env: Record<string, string>

  constructor(readonly dir: string) {
    this.env = {
      ...baseEnv(),
      HOME: dir,
      XDG_DATA_HOME: join(dir, 'data'),
      XDG_CONFIG_HOME: join(dir, 'config'),
      XDG_CACHE_HOME: join(dir, 'cache'),
      HEROKU_DISABLE_AUTOUPDATE: '1',
      HEROKU_SKIP_NEW_VERSION_CHECK: 'true',
      DISABLE_TELEMETRY: 'true',
      OCLIF_DISABLE_LINKED_ESM_WARNING: '1',
      // Wide enough that no help line wraps.
      OCLIF_COLUMNS: '200',
    }
    // The host prints its terms-of-service banner once per cache directory: seen.
    mkdirSync(join(dir, 'cache', 'heroku'), {recursive: true})
    writeFileSync(join(dir, 'cache', 'heroku', 'terms-of-service'), '')
  }

  private readonly memo = new Map<string, Promise<Result>>()

  /** The host's answer to a command that changes nothing (help), asked once: every host run costs seconds. */
  ask(...args: string[]): Promise<Result> {
    const key = args.join(' ')
    if (!this.memo.has(key)) this.memo.set(key, this.run(args))
    return this.memo.get(key)!
  }

  run(args: string[], options: {env?: Record<string, string>; input?: string; cwd?: string} = {}): Promise<Result> {
    return new Promise((resolve, reject) => {
      const child = spawn(process.execPath, [HEROKU_BIN, ...args], {
        cwd: options.cwd ?? this.dir,
        env: {...this.env, ...options.env},
      })
      let stdout = ''
      let stderr = ''
      child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d))
      child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d))
      const timer = setTimeout(() => child.kill('SIGKILL'), 120_000)
      child.on('error', reject)
      child.on('close', (code) => {
        clearTimeout(timer)
        resolve({code, stdout, stderr})
      })
      child.stdin.end(options.input ?? '')
    })
  }
}

/** The entries of a help section (`TOPICS`, `COMMANDS`): name -> description, continuation lines joined. */
function helpSection(help: string, section: string): Map<string, string> {
  const entries = new Map<string, string>()
  const lines = help.split('\n')
  let last: string | undefined
  for (let i = lines.indexOf(section) + 1; i > 0 && i < lines.length && lines[i].startsWith(' '); i++) {
    const entry = /^ {2}(\S+)(?: +(.*))?$/.exec(lines[i])
    if (entry) entries.set((last = entry[1]), entry[2] ?? '')
    else if (last) entries.set(last, `${entries.get(last)} ${lines[i].trim()}`)
  }

  return entries
}

/** Resolves once `child` has exited and every holder of its stdio pipes has closed them. */
function closed(child: ChildProcess, timeoutMs: number): Promise<void> {
  if (child.stdout?.closed && child.stderr?.closed) return Promise.resolve()
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`stdio of ${child.pid} still open after ${timeoutMs} ms`)),
      timeoutMs,
    )
    child.once('close', () => {
      clearTimeout(timer)
      resolve()
    })
  })
}

describe('inside the real Heroku CLI (heroku@11 from the registry)', function () {
  this.timeout(120_000)
  let tmp: string
  let fake: FakeScalingo
  let bare: Host
  let linked: Host
  let installed: Host
  const baseline: {help?: Result; addons?: Result; login?: Result} = {}

  before(async function () {
    this.timeout(INSTALL_TIMEOUT_MS + 240_000)
    if (!existsSync(join(ROOT, 'dist', 'commands', 'env.js')))
      throw new Error('dist/ is missing: run `npm run build` first (npm test does)')
    await ensureHeroku()
    tmp = mkdtempSync(join(tmpdir(), 'scalingo-tcp-heroku-'))
    fake = new FakeScalingo()
    await fake.start()
    fake.addUser(TOKEN, {username: 'jdoe'})
    fake.addApp('my-app', {variables: {TCP_URL: 'tcp://tcp-1.osc-fr1.scalingo.com:20042', B: 'x y'}})
    fake.setFormation('my-app', [{name: 'tcp', amount: 1, size: 'M'}])
    fake.addTcpAddon('my-app', {tcpUrl: 'tcp://tcp-1.osc-fr1.scalingo.com:20042'})

    bare = new Host(join(tmp, 'bare'))
    linked = new Host(join(tmp, 'linked'))
    installed = new Host(join(tmp, 'installed'))
    // --ignore-scripts: pack the dist/ already built instead of rebuilding it under other tests' feet.
    const {stdout} = await execFileP('npm', ['pack', '--ignore-scripts', '--silent', '--pack-destination', tmp], {
      cwd: ROOT,
      env: {...process.env, ...npmEnv()},
    })
    const tarball = join(tmp, stdout.trim().split('\n').pop()!)
    // The host without the plugin first: what it says of itself is what must not change.
    ;[baseline.help, baseline.addons, baseline.login] = await Promise.all([
      bare.ask('help'),
      bare.ask('help', 'addons'),
      bare.ask('login', '--help'),
    ])
    // --no-install: linking runs `npm install` in the plugin otherwise, rebuilding this checkout under the tests.
    const link = await linked.run(['plugins:link', ROOT, '--no-install'])
    expect(link.code, link.stderr).to.equal(0)
    const install = await installed.run(['plugins:install', `file:${tarball}`], {
      env: {...npmEnv(), npm_config_prefer_offline: 'true'},
    })
    expect(install.code, install.stderr).to.equal(0)
  })

  after(async () => {
    await fake?.stop()
    if (tmp) rmSync(tmp, {recursive: true, force: true})
  })

  it('runs heroku 11 on this Node', () => {
    expect(installedMajor()).to.equal(MAJOR)
    expect(baseline.help?.code, baseline.help?.stderr).to.equal(0)
    expect(baseline.help?.stdout).to.include('$ heroku [COMMAND]')
  })

  /** Every command of ours that `heroku help` and the help of our topics list. */
  async function listedCommands(host: Host): Promise<string[]> {
    const helps = await Promise.all([
      host.ask('help'),
      host.ask('help', 'scalingo'),
      host.ask('help', 'addons:tcp'),
      host.ask('help', 'tcp'),
    ])
    return helps.flatMap((r) => [...helpSection(r.stdout, 'COMMANDS').keys()]).filter((id) => OUR_COMMANDS.includes(id))
  }

  /** The host's own entries of a root help section that differ from what the bare host says. */
  async function changedEntries(host: Host, section: string): Promise<Array<[string, string]>> {
    const before = helpSection(baseline.help!.stdout, section)
    expect(before.size, section).to.be.greaterThan(20)
    const now = helpSection((await host.ask('help')).stdout, section)
    return [...before].filter(([name, text]) => now.get(name) !== text)
  }

  describe('the plugin linked (plugins:link)', () => {
    it("is listed (link), adds its commands and leaves the host's topics and commands as they were", async () => {
      expect((await linked.ask('plugins')).stdout).to.match(/^scalingo-tcp 0\.1\.0 \(link\)/m)
      expect((await listedCommands(linked)).sort()).to.deep.equal(OUR_COMMANDS)
      for (const section of ['TOPICS', 'COMMANDS'])
        expect(await changedEntries(linked, section), section).to.deep.equal([])
    })

    it('runs `heroku env -a my-app` against the platform', async () => {
      const vars = await linked.run(['env', '-a', 'my-app'], {env: {...fake.env(), SCALINGO_API_TOKEN: TOKEN}})
      expect(vars.code, vars.stderr).to.equal(0)
      expect(vars.stdout).to.equal('B=x y\nTCP_URL=tcp://tcp-1.osc-fr1.scalingo.com:20042\n')
    })
  })

  describe('the plugin installed from npm pack (plugins:install)', () => {
    it('is listed by `heroku plugins`, with every command of ours in `heroku help` and our topics described', async () => {
      expect((await installed.ask('plugins')).stdout).to.match(/^scalingo-tcp 0\.1\.0$/m)
      expect((await listedCommands(installed)).sort()).to.deep.equal(OUR_COMMANDS)
      const topics = helpSection((await installed.ask('help')).stdout, 'TOPICS')
      expect(topics.get('scalingo')).to.equal('Log in to Scalingo and out of it.')
      expect(topics.get('tcp')).to.equal('Run the app locally behind an emulated TCP Gateway.')
      expect((await installed.ask('help', 'addons:tcp')).stdout.split('\n')[0]).to.equal(
        'Provision and operate the TCP Gateway addon.',
      )
    })

    it("leaves the host's topics and commands as they were: `heroku help`, `heroku help addons`, `heroku login`", async () => {
      for (const section of ['TOPICS', 'COMMANDS'])
        expect(await changedEntries(installed, section), section).to.deep.equal([])
      expect(helpSection((await installed.ask('help')).stdout, 'TOPICS').get('addons')).to.equal(
        'tools and services for developing, extending, and operating your app',
      )
      // `heroku help addons`: the host's own text and commands, with our subtopic and commands added.
      const addons = await installed.ask('help', 'addons')
      const intro = (text: string) => text.slice(0, text.search(/^(TOPICS|COMMANDS)$/m))
      expect(intro(addons.stdout))
        .to.equal(intro(baseline.addons!.stdout))
        .and.include('Lists your add-ons and attachments.')
      expect(helpSection(addons.stdout, 'TOPICS').get('addons:tcp')).to.equal(
        'Provision and operate the TCP Gateway addon.',
      )
      const hostCommands = helpSection(baseline.addons!.stdout, 'COMMANDS')
      expect(hostCommands.size).to.be.greaterThan(5)
      expect(
        [...hostCommands].filter(([name, text]) => helpSection(addons.stdout, 'COMMANDS').get(name) !== text),
      ).to.deep.equal([])
      // `heroku login` is still the host's: its help is byte for byte what it was.
      const login = await installed.ask('login', '--help')
      expect(login.code).to.equal(0)
      expect(login.stdout).to.equal(baseline.login!.stdout)
      expect(login.stdout).to.include('login with your Heroku credentials').and.not.include('--api-token-stdin')
    })

    it('runs `heroku env -a my-app` and `heroku addons:tcp:info -a my-app` against the platform', async () => {
      const env = {...fake.env(), SCALINGO_API_TOKEN: TOKEN}
      const [vars, info] = await Promise.all([
        installed.run(['env', '-a', 'my-app'], {env}),
        installed.run(['addons:tcp:info', '-a', 'my-app'], {env}),
      ])
      expect(vars.code, vars.stderr).to.equal(0)
      expect(vars.stdout).to.equal('B=x y\nTCP_URL=tcp://tcp-1.osc-fr1.scalingo.com:20042\n')
      expect(info.code, info.stderr).to.equal(0)
      expect(info.stdout)
        .to.include('=== TCP Gateway addon of my-app')
        .and.include('Port:        20042')
        .and.include('Formation:   tcp:1:M')
    })
  })

  describe('logging in (the plugin installed from npm pack)', () => {
    it('names our commands in hints as typed in this CLI: `heroku scalingo:login`, `heroku tcp:proxy`', async () => {
      const [env, local] = await Promise.all([
        installed.run(['env', '-a', 'my-app'], {env: fake.env()}),
        installed.run(['addons:tcp:info', '--local'], {cwd: emptyAppRoot('empty-', tmp)}),
      ])
      expect(env.code).to.equal(3)
      expect(unwrap(env.stderr))
        .to.include('Not logged in')
        .and.include('Run `heroku scalingo:login` (or `scalingo login`) to log in')
      expect(env.stderr).to.not.include('scalingo-tcp scalingo:login')
      expect(local.code).to.equal(1)
      expect(unwrap(local.stderr)).to.include('Start one with: heroku tcp:proxy')
    })

    it('`heroku scalingo:login --api-token-stdin` stores the token that `heroku env` then uses; `heroku scalingo:logout` removes it', async () => {
      const login = await installed.run(['scalingo:login', '--api-token-stdin'], {env: fake.env(), input: `${TOKEN}\n`})
      expect(login.code, login.stderr).to.equal(0)
      expect(login.stderr).to.include('Logged in as jdoe')
      const stored = join(installed.dir, 'config', 'scalingo-tcp', 'credentials.json')
      expect(JSON.parse(readFileSync(stored, 'utf8')).tokens['127.0.0.1'].token).to.equal(TOKEN)
      const vars = await installed.run(['env', 'TCP_URL', '-a', 'my-app'], {env: fake.env()})
      expect(vars.code, vars.stderr).to.equal(0)
      expect(vars.stdout).to.equal('tcp://tcp-1.osc-fr1.scalingo.com:20042\n')
      const logout = await installed.run(['scalingo:logout'], {env: fake.env()})
      expect(logout.code, logout.stderr).to.equal(0)
      expect(existsSync(stored)).to.equal(false)
      for (const output of [login, vars, logout]) expect(output.stdout + output.stderr).to.not.include(TOKEN)
    })
  })

  describe("`heroku tcp:proxy` with the host's signal listeners on (telemetry on, in a network namespace with loopback only)", () => {
    let app: string
    let markers: string
    let proxy: ProxyProcess | undefined

    beforeEach(() => {
      app = mkdtempSync(join(tmp, 'app-'))
      mkdirSync(join(app, '.git'))
      markers = join(app, 'markers')
      mkdirSync(markers)
      writeFileSync(join(app, 'Procfile'), `tcp: node ${join(SERVERS, 'sigterm-marker.mjs')} ${markers}\n`)
    })

    afterEach(async () => {
      await proxy?.cleanup()
      proxy = undefined
    })

    for (const signal of ['SIGINT', 'SIGTERM'] as const) {
      it(`stops gracefully on ${signal}: every instance gets SIGTERM, heroku exits 0`, async function () {
        this.timeout(60_000)
        const env: Record<string, string> = {...installed.env, DEBUG: 'heroku:analytics'}
        delete env.DISABLE_TELEMETRY
        proxy = ProxyProcess.start(['-m', 'tcp=2'], {
          cwd: app,
          env,
          launcher: [
            'unshare',
            '--net',
            'sh',
            '-c',
            'ip link set lo up && exec "$0" "$@"',
            process.execPath,
            HEROKU_BIN,
          ],
        })
        const ready = await Promise.all([
          proxy.waitForEvent('instance-ready', {instance: 'tcp-1'}),
          proxy.waitForEvent('instance-ready', {instance: 'tcp-2'}),
        ])
        await proxy.waitForEvent('control-listening')
        // The host did install its listeners: its own debug line says so.
        expect(proxy.stderr).to.include('Telemetry enabled: setting up handlers (beforeExit, SIGINT, SIGTERM)')
        const pids = proxy.events.filter((e) => e.event === 'instance-starting').map((e) => e.pid as number)
        expect(pids, JSON.stringify(ready)).to.have.length(2)
        const {code, signal: killedBy} = await proxy.stop(signal)
        expect({code, killedBy}, proxy.stderr).to.deep.equal({code: 0, killedBy: null})
        expect(proxy.events.find((e) => e.event === 'shutdown')).to.include({reason: signal})
        expect(proxy.events.filter((e) => e.event === 'instance-exited').map((e) => e.expected)).to.deep.equal([
          true,
          true,
        ])
        expect(readdirSync(markers).sort()).to.deep.equal(pids.map((pid) => `sigterm-${pid}`).sort())
        // The host's telemetry workers (detached, at most 10 s each) inherit stderr under DEBUG: it closes once
        // they are gone too, and only then is the host's data directory left alone.
        await closed(proxy.child, 30_000)
      })
    }
  })
})

describe('package-lock.json, which `plugins:link` hands to `npm install` in the plugin', () => {
  it('is what npm install leaves it (byte for byte)', async function () {
    this.timeout(120_000)
    const dir = mkdtempSync(join(tmpdir(), 'scalingo-tcp-lockfile-'))
    try {
      // What npm reads to compute the lockfile: the root manifest and lockfile, and each workspace's manifest.
      const workspaces: string[] = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).workspaces ?? []
      for (const file of [
        'package.json',
        'package-lock.json',
        ...workspaces.map((workspace) => join(workspace, 'package.json')),
      ]) {
        mkdirSync(join(dir, file, '..'), {recursive: true})
        writeFileSync(join(dir, file), readFileSync(join(ROOT, file)))
      }
      await execFileP(
        'npm',
        [
          'install',
          '--package-lock-only',
          '--ignore-scripts',
          '--prefer-offline',
          '--no-audit',
          '--no-fund',
          '--loglevel=error',
        ],
        {
          cwd: dir,
          env: {PATH: process.env.PATH!, HOME: homedir(), TMPDIR: tmpdir(), ...npmEnv()},
          timeout: 110_000,
          killSignal: 'SIGKILL',
        },
      )
      const lockfile = readFileSync(join(dir, 'package-lock.json'), 'utf8')
      expect(
        lockfile === readFileSync(join(ROOT, 'package-lock.json'), 'utf8'),
        'npm rewrote package-lock.json: run `npm install` and commit it',
      ).to.equal(true)
    } finally {
      rmSync(dir, {recursive: true, force: true})
    }
  })
})
