import {expect} from 'chai'
import {execFile, spawn} from 'node:child_process'
import {randomBytes} from 'node:crypto'
import {existsSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {promisify} from 'node:util'

import {baseEnv, npmEnv, ROOT} from './support/cli.js'
import {FakeScalingo} from './support/fake-scalingo.js'
import {killGroup} from './support/processes.js'

const execFileP = promisify(execFile)
const HOST_BIN = join(ROOT, 'test', 'fixtures', 'host-cli', 'bin', 'run.js')
const TOKEN = `tk-us-${randomBytes(18).toString('hex')}`

const running = new Set<number>()

/** SIGKILLs the process group of a host() still running (an npm install mocha's --exit would leave behind). */
function killRunningHosts(): void {
  for (const pid of running) killGroup(pid)
}

/**
 * Runs the fixture host CLI with its data, config and cache isolated under `dir`, in its own process group: after
 * timeoutMs (or when it exits) the whole group is SIGKILLed, so an npm install and its node-gyp never outlive it.
 */
function host(args: string[], dir: string, env: Record<string, string> = {}, timeoutMs = 30_000) {
  return new Promise<{code: number | null; stdout: string; stderr: string; ms: number}>((resolve, reject) => {
    const started = performance.now()
    const child = spawn(process.execPath, [HOST_BIN, ...args], {
      cwd: dir,
      detached: true,
      env: {
        ...baseEnv(),
        HOME: dir,
        XDG_DATA_HOME: join(dir, 'data'),
        XDG_CONFIG_HOME: join(dir, 'config'),
        XDG_CACHE_HOME: join(dir, 'cache'),
        ...env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    const pid = child.pid!
    running.add(pid)
    let stdout = ''
    let stderr = ''
    const timer = setTimeout(() => {
      stderr += `\n[test] host ${args.join(' ')} still running after ${timeoutMs} ms: process group SIGKILLed\n`
      killGroup(pid)
    }, timeoutMs)
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d))
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d))
    child.on('error', reject)
    child.on('close', (code) => {
      clearTimeout(timer)
      killGroup(pid)
      running.delete(pid)
      resolve({code, stdout, stderr, ms: performance.now() - started})
    })
  })
}

describe('as an oclif plugin linked into another CLI', () => {
  let dir: string
  let fake: FakeScalingo

  before(async function () {
    if (!existsSync(join(ROOT, 'dist', 'commands', 'env.js'))) {
      throw new Error('dist/ is missing: run `npm run build` first (npm test does)')
    }

    dir = mkdtempSync(join(tmpdir(), 'scalingo-tcp-host-'))
    fake = new FakeScalingo()
    await fake.start()
    fake.addUser(TOKEN)
    fake.addApp('my-app', {variables: {TCP_URL: 'tcp://tcp-1.osc-fr1.scalingo.com:20003', B: 'x y'}})
  })

  after(async () => {
    killRunningHosts()
    await fake?.stop()
    if (dir) rmSync(dir, {recursive: true, force: true})
  })

  it('links with plugins:link --no-install (offline, no npm install)', async () => {
    const result = await host(['plugins:link', ROOT, '--no-install'], dir)
    expect(result.code, result.stderr).to.equal(0)
    const pjson = JSON.parse(readFileSync(join(dir, 'data', 'host-cli', 'package.json'), 'utf8'))
    expect(pjson.oclif.plugins).to.deep.include({name: 'scalingo-tcp', root: ROOT.replace(/\/$/, ''), type: 'link'})
    const list = await host(['plugins'], dir)
    expect(list.stdout).to.match(/scalingo-tcp \d+\.\d+\.\d+ \(link\)/)
  })

  it('runs `host env -a my-app` against the fake platform', async () => {
    const result = await host(['env', '-a', 'my-app'], dir, {...fake.env(), SCALINGO_API_TOKEN: TOKEN})
    expect(result.code, result.stderr).to.equal(0)
    expect(result.stdout).to.equal('B=x y\nTCP_URL=tcp://tcp-1.osc-fr1.scalingo.com:20003\n')
    expect(fake.requestsTo('GET', '/v1/apps/my-app/variables')[0].headers['user-agent']).to.match(/^scalingo-tcp\//)
  })

  it("brings its help along: `host help` lists our topics and commands (with the linked-ESM notice oclif gives linked plugins' own plugins)", async () => {
    const result = await host(['help'], dir)
    expect(result.code, result.stderr).to.equal(0)
    expect(result.stdout).to.include('$ host [COMMAND]')
    expect(result.stdout).to.match(/^ {2}tcp +Run the app locally behind an emulated TCP Gateway\./m)
    expect(result.stdout).to.match(/^ {2}env +Print the app's environment variables/m)
    const quiet = await host(['help'], dir, {OCLIF_DISABLE_LINKED_ESM_WARNING: '1'})
    expect(quiet.stderr).to.equal('')
  })

  it('exposes scalingo:login and scalingo:logout in the host', async () => {
    const result = await host(['scalingo:login', '--help'], dir)
    expect(result.code, result.stderr).to.equal(0)
    expect(result.stdout).to.include('$ host scalingo:login').and.include('--api-token-stdin')
    const logout = await host(['scalingo:logout', '--help'], dir)
    expect(logout.stdout).to.include('$ host scalingo:logout')
  })

  it("names its commands in hints as the host's user types them: `host scalingo:login`, `host tcp:proxy`", async () => {
    const noToken = await host(['env', '-a', 'my-app'], dir, {...fake.env(), SCALINGO_API_TOKEN: ''})
    expect(noToken.code).to.equal(3)
    expect(noToken.stderr).to.include('Run `host scalingo:login`').and.not.include('scalingo-tcp scalingo:login')
    const json = await host(['addons:tcp:info', '-a', 'my-app', '--json'], dir, {...fake.env(), SCALINGO_API_TOKEN: ''})
    expect(JSON.parse(json.stdout).error.suggestions[0]).to.include('`host scalingo:login`')
    const local = await host(['addons:tcp:info', '--local'], dir)
    expect(local.code).to.equal(1)
    expect(local.stderr).to.include('Start one with: host tcp:proxy')
  })
})

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.floor(sorted.length / 2)]
}

describe('as an oclif plugin, cost for the host', () => {
  let linked: string
  let bare: string

  before(async () => {
    linked = mkdtempSync(join(tmpdir(), 'scalingo-tcp-host-linked-'))
    bare = mkdtempSync(join(tmpdir(), 'scalingo-tcp-host-bare-'))
    const result = await host(['plugins:link', ROOT, '--no-install'], linked)
    expect(result.code, result.stderr).to.equal(0)
  })

  after(() => {
    killRunningHosts()
    for (const dir of [linked, bare]) if (dir) rmSync(dir, {recursive: true, force: true})
  })

  it('declares no init hook (nothing of ours runs when the host starts)', () => {
    const pjson = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'))
    expect(pjson.oclif.hooks?.init, 'an init hook would run on every host command').to.equal(undefined)
    const manifest = JSON.parse(readFileSync(join(ROOT, 'oclif.manifest.json'), 'utf8'))
    expect(Object.keys(manifest.commands)).to.include('env')
  })

  // Speed is the benchmark's business (bench/startup.sh), not a test's: this prints the figure and checks
  // that linking the plugin leaves the host's own --version untouched.
  it('leaves `host --version` as it was, and prints its time with and without the plugin', async function () {
    // 14 CLI start-ups: 30 s ran out on 2 cores shared with a full suite's other processes
    this.timeout(90_000)
    const times: {linked: number[]; bare: number[]} = {linked: [], bare: []}
    // Interleaved, so load on the machine hits both alike.
    for (let i = 0; i < 7; i++) {
      const withPlugin = await host(['--version'], linked)
      const without = await host(['--version'], bare)
      expect(withPlugin.code).to.equal(0)
      expect(withPlugin.stdout).to.equal(without.stdout)
      times.linked.push(withPlugin.ms)
      times.bare.push(without.ms)
    }

    const figures = {linkedMs: Math.round(median(times.linked)), bareMs: Math.round(median(times.bare))}
    console.log(
      `      host --version, median of 7: ${figures.bareMs} ms without the plugin, ${figures.linkedMs} ms with it linked`,
    )
  })
})

describe('as an oclif plugin installed from a packed tarball (plugins:install)', () => {
  let dir: string
  let fake: FakeScalingo
  let tarball: string

  before(async function () {
    this.timeout(60_000)
    dir = mkdtempSync(join(tmpdir(), 'scalingo-tcp-host-install-'))
    // --ignore-scripts: pack the dist/ already built instead of rebuilding it under other tests' feet.
    const {stdout} = await execFileP('npm', ['pack', '--ignore-scripts', '--silent', '--pack-destination', dir], {
      cwd: ROOT,
      timeout: 50_000,
    })
    tarball = join(dir, stdout.trim().split('\n').pop()!)
    fake = new FakeScalingo()
    await fake.start()
    fake.addUser(TOKEN)
    fake.addApp('my-app', {variables: {TCP_URL: 'tcp://tcp-1.osc-fr1.scalingo.com:20003'}})
  })

  after(async () => {
    killRunningHosts()
    await fake?.stop()
    if (dir) rmSync(dir, {recursive: true, force: true})
  })

  it('installs with `host plugins:install file:<tgz>` (dependencies from the npm cache or registry)', async function () {
    this.timeout(150_000)
    expect(existsSync(tarball), tarball).to.equal(true)
    // HOME is isolated: npm keeps this machine's CA, proxy and npm settings, and its cache (warm: no download).
    // Bounded below the test's timeout, so a hung install fails the test and is killed, group and all.
    const result = await host(
      ['plugins:install', `file:${tarball}`],
      dir,
      {...npmEnv(), npm_config_prefer_offline: 'true'},
      120_000,
    )
    expect(result.code, result.stderr).to.equal(0)
    const installed = join(dir, 'data', 'host-cli', 'node_modules', 'scalingo-tcp')
    expect(readdirSync(installed)).to.include.members(['dist', 'bin', 'oclif.manifest.json', 'package.json'])
    // what a user installs: the licence, the entry point, and not the development entry point (bin/dev.js runs src/ via tsx)
    expect(readdirSync(installed)).to.include('LICENSE')
    expect(readdirSync(join(installed, 'bin'))).to.deep.equal(['run.js'])
    expect(realpathSync(installed).startsWith(realpathSync(ROOT))).to.equal(false)
    const list = await host(['plugins'], dir)
    expect(list.stdout).to.match(/^scalingo-tcp 0\.1\.0/m)
    expect(list.stdout).not.to.include('(link)')
  })

  it('runs the installed copy under the host name: `host env -a my-app`, `host tcp:proxy --help`', async () => {
    const result = await host(['env', '-a', 'my-app'], dir, {...fake.env(), SCALINGO_API_TOKEN: TOKEN})
    expect(result.code, result.stderr).to.equal(0)
    expect(result.stdout).to.equal('TCP_URL=tcp://tcp-1.osc-fr1.scalingo.com:20003\n')
    const help = await host(['tcp:proxy', '--help'], dir)
    expect(help.stdout).to.include('$ host tcp:proxy')
  })

  it('brings its help and completion along, with nothing on stderr', async () => {
    const help = await host(['help'], dir)
    expect(help.code, help.stderr).to.equal(0)
    expect(help.stdout).to.match(/^ {2}env +Print the app's environment variables/m)
    expect(help.stderr).to.equal('')
    const completion = await host(['autocomplete', 'bash'], dir)
    expect(completion.code, completion.stderr).to.equal(0)
    expect(completion.stdout).to.include('Setup Instructions for HOST CLI Autocomplete')
  })
})
