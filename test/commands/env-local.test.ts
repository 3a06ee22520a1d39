import {expect} from 'chai'
import {spawnSync} from 'node:child_process'
import {existsSync, mkdirSync, readFileSync, rmSync, statSync} from 'node:fs'
import {join} from 'node:path'

import {BIN, baseEnv, runCli, unwrapAll} from '../support/cli.js'
import {waitUntilNoLiveMembers} from '../support/processes.js'
import {emptyAppRoot, makeApp, ProxyProcess, SERVERS} from '../support/proxy.js'

const echo = `node ${join(SERVERS, 'echo-server.mjs')}`
const STATE_FILE = '.scalingo-tcp.json'

describe('env --local against a running tcp:proxy', function () {
  this.timeout(30_000)
  let dir: string
  let proxy: ProxyProcess
  let port: number
  let controlUrl: string

  before(async () => {
    dir = makeApp(`tcp: ${echo}\nworker: ${echo}\n`, {'.env': 'GREETING="hi there"\nTCP_URL=tcp://stale:1\n'})
    mkdirSync(join(dir, 'lib', 'deep'), {recursive: true})
    proxy = ProxyProcess.start(['--app', 'my-app'], {cwd: dir})
    port = await proxy.port()
    controlUrl = (await proxy.waitForEvent('control-listening')).url as string
    await proxy.waitForEvent('status-page')
  })

  after(async () => {
    await proxy.cleanup()
    rmSync(dir, {recursive: true, force: true})
  })

  it('announces the control interface on 127.0.0.1 and writes a 0600 state file holding its token (logged only in the status page URL)', async () => {
    expect(controlUrl).to.match(/^http:\/\/127\.0\.0\.1:\d+$/)
    const path = join(dir, STATE_FILE)
    expect(statSync(path).mode & 0o777).to.equal(0o600)
    const state = JSON.parse(readFileSync(path, 'utf8'))
    expect(state).to.include({pid: proxy.child.pid, url: controlUrl, tcpUrl: `tcp://127.0.0.1:${port}`, app: 'my-app'})
    expect(state.token).to.match(/^[\w-]{43}$/)
    // The status page URL is the one line that carries it, on purpose (the user opens the page with it).
    const [pageEvent, ...others] = proxy.events.filter((e) => JSON.stringify(e).includes(state.token))
    expect(pageEvent).to.include({event: 'status-page', url: `${controlUrl}/?token=${state.token}`})
    expect(others).to.deep.equal([])
    expect(proxy.stderr).to.not.include(state.token)

    expect((await fetch(`${controlUrl}/v1/status`)).status).to.equal(401)
    const res = await fetch(`${controlUrl}/v1/env`, {headers: {Authorization: `Bearer ${state.token}`}})
    expect(res.status).to.equal(200)
  })

  it("prints the tcp instances' environment as NAME=value lines, from a subdirectory, with no token", async () => {
    const {code, stdout, stderr} = await runCli(['env', '--local'], {cwd: join(dir, 'lib', 'deep')})
    expect(stderr).to.equal('')
    expect(code).to.equal(0)
    const lines = stdout.trimEnd().split('\n')
    expect(lines).to.include.members([
      `TCP_URL=tcp://127.0.0.1:${port}`,
      'GREETING=hi there',
      'CONTAINER=tcp-1',
      'APP=my-app',
    ])
    expect(lines.some((l) => l.startsWith('PORT='))).to.equal(false)
    const names = lines.map((l) => l.slice(0, l.indexOf('=')))
    expect(names).to.deep.equal([...names].sort())
  })

  it('prints a single value, --shell, --json and another --type', async () => {
    const single = await runCli(['env', '--local', 'TCP_URL'], {cwd: dir})
    expect(single.stdout).to.equal(`tcp://127.0.0.1:${port}\n`)
    const shell = await runCli(['env', '--local', '--shell'], {cwd: dir})
    expect(shell.stdout).to.include("export GREETING='hi there'\n")
    const json = await runCli(['env', '--local', '--json', '--type', 'worker'], {cwd: dir})
    expect(json.code).to.equal(0)
    expect(JSON.parse(json.stdout)).to.include({CONTAINER: 'worker-1', TCP_URL: `tcp://127.0.0.1:${port}`})
  })

  it('exits 4 for a variable that is not set', async () => {
    const {code, stdout, stderr} = await runCli(['env', '--local', 'NOT_SET_ANYWHERE'], {cwd: dir})
    expect(code).to.equal(4)
    expect(stdout).to.equal('')
    expect(unwrapAll(stderr)).to.include(
      'Variable NOT_SET_ANYWHERE is not set in the environment of the local tcp instances.',
    )
  })
})

describe('env --local without a running gateway', function () {
  this.timeout(30_000)
  let dir: string
  let proxy: ProxyProcess | undefined

  beforeEach(() => {
    dir = emptyAppRoot('scalingo-tcp-nogw-')
  })

  afterEach(async () => {
    await proxy?.cleanup()
    proxy = undefined
    rmSync(dir, {recursive: true, force: true})
  })

  it('says so with exit 1 and how to start one', async () => {
    const {code, stdout, stderr} = await runCli(['env', '--local'], {cwd: dir})
    expect(code).to.equal(1)
    expect(stdout).to.equal('')
    expect(unwrapAll(stderr)).to.include(`No local gateway is running in ${dir}.`)
    expect(unwrapAll(stderr)).to.include('scalingo-tcp tcp:proxy')
  })

  it('the state file disappears when tcp:proxy stops, and env --local then fails', async () => {
    const app = makeApp(`tcp: ${echo}\n`)
    dir = app
    proxy = ProxyProcess.start(['--grace', '5s'], {cwd: app})
    await proxy.waitForEvent('control-listening')
    expect(existsSync(join(app, STATE_FILE))).to.equal(true)
    expect((await proxy.stop('SIGTERM')).code).to.equal(0)
    expect(existsSync(join(app, STATE_FILE))).to.equal(false)
    expect((await runCli(['env', '--local'], {cwd: app})).code).to.equal(1)
  })

  it('ignores and cleans the state file a killed gateway left behind', async () => {
    const app = makeApp(`tcp: ${echo}\n`)
    dir = app
    proxy = ProxyProcess.start([], {cwd: app})
    await proxy.waitForEvent('control-listening')
    const {pid: pgid} = await proxy.waitForEvent('instance-starting')
    await proxy.stop('SIGKILL')
    expect(existsSync(join(app, STATE_FILE))).to.equal(true)
    // its instances end on their own within a second or so; until then the file stays, for the next tcp:proxy to stop them
    await waitUntilNoLiveMembers(pgid, 5000)
    const {code, stderr} = await runCli(['env', '--local'], {cwd: app})
    expect(code).to.equal(1)
    expect(unwrapAll(stderr)).to.include(`No local gateway is running in ${app}.`)
    expect(existsSync(join(app, STATE_FILE))).to.equal(false)
  })
})

describe('env --local --shell under eval in a real bash', function () {
  this.timeout(30_000)
  let dir: string
  let proxy: ProxyProcess

  before(async () => {
    dir = makeApp(`tcp: ${echo}\n`)
    // The gateway hands its own environment on to the instances: a name no shell can hold, and an
    // exported bash function, as a developer's shell can have them.
    proxy = ProxyProcess.start([], {
      cwd: dir,
      env: {
        'X;touch pwned;Y': 'v',
        'BASH_FUNC_f%%': '() {  touch pwned-function\n}',
        QUOTED: "it's $(touch pwned-value) `touch pwned-value`",
      },
    })
    await proxy.waitForEvent('status-page')
  })

  after(async () => {
    await proxy.cleanup()
    rmSync(dir, {recursive: true, force: true})
  })

  it('leaves out names that are not shell identifiers, with a warning naming how many, and runs nothing', () => {
    const script = `eval "$("${process.execPath}" "${BIN}" env --local --shell)" && printf '%s' "$QUOTED"`
    const bash = spawnSync('bash', ['-c', script], {cwd: dir, encoding: 'utf8', env: baseEnv()})
    expect(bash.status, bash.stderr).to.equal(0)
    expect(bash.stdout).to.equal("it's $(touch pwned-value) `touch pwned-value`")
    for (const file of ['pwned', 'Y', 'pwned-function', 'pwned-value'])
      expect(existsSync(join(dir, file)), file).to.equal(false)
    expect(unwrapAll(bash.stderr)).to.include('2 variables were left out of --shell')
    expect(bash.stderr).to.not.include('pwned')
    // --json still shows them (nothing is evaluated there).
    return runCli(['env', '--local', '--json'], {cwd: dir}).then((json) => {
      expect(JSON.parse(json.stdout)).to.include({
        'X;touch pwned;Y': 'v',
        'BASH_FUNC_f%%': '() {  touch pwned-function\n}',
      })
    })
  })
})
