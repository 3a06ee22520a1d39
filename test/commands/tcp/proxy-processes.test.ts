import {expect} from 'chai'
import {execFileSync, spawn} from 'node:child_process'
import {join} from 'node:path'

import {BIN, baseEnv} from '../../support/cli.js'
import {liveGroupMembers, waitUntilNoLiveMembers} from '../../support/processes.js'
import {ProxyProcess, SERVERS, makeApp} from '../../support/proxy.js'

const echo = `node ${join(SERVERS, 'echo-server.mjs')}`
const envDump = `node ${join(SERVERS, 'env-dump.mjs')}`
const ignoresSigterm = `node ${join(SERVERS, 'ignore-sigterm.mjs')}`

function gitRepo(dir: string): string {
  const git = (...args: string[]) =>
    execFileSync('git', ['-c', 'user.email=t@example.com', '-c', 'user.name=t', ...args], {
      cwd: dir,
      encoding: 'utf8',
    }).trim()
  git('init', '-q')
  git('add', '-A')
  git('commit', '-q', '-m', 'app')
  return git('rev-parse', 'HEAD')
}

describe('tcp:proxy processes: formation, environment, output and shutdown', function () {
  this.timeout(30_000)
  const proxies: ProxyProcess[] = []

  afterEach(async () => {
    await Promise.all(proxies.splice(0).map((p) => p.cleanup()))
  })

  it('runs each instance through sh -c with its own PORT and CONTAINER: tcp on free ports, web from --web-port +1, CONTAINER_VERSION the git commit, -e files in order, postdeploy never', async () => {
    // `&&` only works through a shell: the env dump proves the shell, then the echo server makes tcp ready.
    const dir = makeApp(
      [`tcp: ${envDump} --exit && exec ${echo}`, `web: ${envDump}`, `postdeploy: ${envDump} --exit`, ''].join('\n'),
      {'base.env': 'A=from-base\nB=from-base\n', 'local.env': 'export B="from local"\n'},
    )
    const commit = gitRepo(dir)
    const proxy = ProxyProcess.start(['-m', 'tcp=2,web=2', '--web-port', '5310', '-e', 'base.env', '-e', 'local.env'], {
      cwd: dir,
    })
    proxies.push(proxy)
    await proxy.waitForEvent('instance-ready', {instance: 'tcp-1'})
    await proxy.waitForEvent('instance-ready', {instance: 'tcp-2'})
    const envOf = async (instance: string) => {
      const line = await proxy.waitFor(
        (e) => e.event === 'output' && e.instance === instance && e.line.startsWith('ENV '),
      )
      return JSON.parse(line.line.slice(4)) as Record<string, string>
    }

    const [tcp1, tcp2, web1, web2] = await Promise.all(['tcp-1', 'tcp-2', 'web-1', 'web-2'].map(envOf))
    expect([tcp1.CONTAINER, tcp2.CONTAINER, web1.CONTAINER, web2.CONTAINER]).to.deep.equal([
      'tcp-1',
      'tcp-2',
      'web-1',
      'web-2',
    ])
    expect([web1.PORT, web2.PORT]).to.deep.equal(['5310', '5311'])
    const tcpPorts = [tcp1.PORT, tcp2.PORT].map(Number)
    expect(tcpPorts[0]).to.not.equal(tcpPorts[1])
    for (const port of tcpPorts) expect(port).to.be.greaterThan(1023)
    const ready = proxy.events.filter((e) => e.event === 'instance-ready').map((e) => e.port)
    expect(ready).to.have.members(tcpPorts)
    for (const env of [tcp1, web2]) {
      expect(env).to.include({CONTAINER_VERSION: commit, A: 'from-base', B: 'from local'})
      expect(env.HOSTNAME).to.equal(`${env.APP}-${env.CONTAINER}`)
    }

    expect(proxy.events.filter((e) => e.event === 'instance-starting').map((e) => e.instance)).to.have.members([
      'tcp-1',
      'tcp-2',
      'web-1',
      'web-2',
    ])
  })

  it('warns about a process type name the platform refuses, and still runs it', async () => {
    const proxy = ProxyProcess.start([], {cwd: makeApp(`tcp: ${echo}\nmy_worker: ${envDump}\n`)})
    proxies.push(proxy)
    await proxy.waitFor((e) => e.event === 'output' && e.instance === 'my_worker-1' && e.line.startsWith('ENV '))
    expect(proxy.stderr).to.match(/my_worker/)
    expect(proxy.stderr).to.match(/Scalingo|platform/i)
  })

  it("without --json prints every line under its instance's prefix and the gateway's under `gateway`, with --timestamps", async () => {
    const dir = makeApp(`tcp: ${echo}\n`)
    const child = spawn(process.execPath, [BIN, 'tcp:proxy', '--port', '0', '--timestamps', '--grace', '5s'], {
      cwd: dir,
      env: baseEnv(),
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let stdout = ''
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)))
    await new Promise<void>((resolve, reject) => {
      child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
        stdout += chunk
        if (/tcp-1\s+\| listening on \d+\n/.test(stdout) && /gateway\s+\| status page on /.test(stdout)) resolve()
      })
      child.on('exit', () => reject(new Error(`tcp:proxy exited early:\n${stdout}`)))
    })
    child.kill('SIGINT')
    expect(await exited).to.equal(0)
    const lines = stdout.trimEnd().split('\n')
    for (const line of lines) expect(line).to.match(/^\d{2}:\d{2}:\d{2}\.\d{3} (gateway|tcp-1)\s+\| \S/)
    expect(
      lines.some((line) =>
        /gateway\s+\| listening on 127\.0\.0\.1:\d+ {2}TCP_URL=tcp:\/\/127\.0\.0\.1:\d+ {2}\((native relay|net\.Socket transport)\)$/.test(
          line,
        ),
      ),
    ).to.equal(true)
    expect(lines.some((line) => / tcp-1\s+\| SIGTERM received$/.test(line))).to.equal(true)
    expect(lines.at(-1)).to.match(/gateway\s+\| stopped$/)
  })

  it('on SIGTERM SIGKILLs after --grace what ignores it, then exits 0 with nothing left', async () => {
    const dir = makeApp(`tcp: ${ignoresSigterm}\n`)
    const proxy = ProxyProcess.start(['--grace', '500ms'], {cwd: dir})
    proxies.push(proxy)
    const started = await proxy.waitForEvent('instance-starting', {instance: 'tcp-1'})
    await proxy.waitForEvent('control-listening')
    proxy.child.kill('SIGTERM')
    const shutdownAt = Date.now()
    await proxy.waitFor((e) => e.event === 'output' && e.line === 'ignoring SIGTERM')
    const exit = await proxy.exited
    expect(exit.code).to.equal(0)
    expect(Date.now() - shutdownAt).to.be.at.least(450)
    // The group's leader may be the shell, which SIGTERM does end: the server it started is what lasts until SIGKILL.
    expect(proxy.events.find((e) => e.event === 'instance-exited')).to.include({expected: true})
    await waitUntilNoLiveMembers(started.pid, 8000)
  })

  it('a second SIGINT forces the stop without waiting for --grace: exit 130, nothing left', async () => {
    const dir = makeApp(`tcp: sh -c "sleep 1000 & exec ${ignoresSigterm}"\n`)
    const proxy = ProxyProcess.start(['--grace', '60s'], {cwd: dir})
    proxies.push(proxy)
    const started = await proxy.waitForEvent('instance-starting', {instance: 'tcp-1'})
    await proxy.waitForEvent('control-listening')
    expect(liveGroupMembers(started.pid)).to.have.length.greaterThan(1)
    proxy.child.kill('SIGINT')
    await proxy.waitFor((e) => e.event === 'output' && e.line === 'ignoring SIGTERM')
    proxy.child.kill('SIGINT')
    const exit = await proxy.exited
    expect(exit.code).to.equal(130)
    await waitUntilNoLiveMembers(started.pid, 8000)
  })
})
