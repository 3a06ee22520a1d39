import {expect} from 'chai'
import {readFileSync, rmSync, writeFileSync} from 'node:fs'
import net from 'node:net'
import {join} from 'node:path'

import {interruptCli, runCli, unwrap} from '../../../support/cli.js'
import {emptyAppRoot, makeApp, ProxyProcess, SERVERS} from '../../../support/proxy.js'

const restartableEcho = `node ${join(SERVERS, 'restartable-echo.mjs')}`
const STATE_FILE = '.scalingo-tcp.json'

/** Connects through the gateway, reads the greeting (the serving instance's own port), sends and reads back `message`. */
function greetAndEcho(port: number, message: string): Promise<{servedBy: number; echoed: string}> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1')
    let received = ''
    socket.setEncoding('utf8')
    socket.on('data', (data: string) => {
      const wasGreeted = received.includes('\n')
      received += data
      if (!wasGreeted && received.includes('\n')) socket.write(message)
      const newline = received.indexOf('\n')
      if (newline >= 0 && received.length - newline - 1 >= message.length) socket.end()
    })
    socket.on('error', reject)
    socket.on('close', () => {
      const newline = received.indexOf('\n')
      resolve({servedBy: Number(received.slice(0, newline)), echoed: received.slice(newline + 1)})
    })
  })
}

describe('addons:tcp:info --local and addons:tcp:restart --local against a running tcp:proxy', function () {
  this.timeout(30_000)
  let dir: string
  let proxy: ProxyProcess
  let port: number
  let controlUrl: string
  let token: string

  before(async () => {
    dir = makeApp(`tcp: ${restartableEcho}\n`)
    proxy = ProxyProcess.start(['--app', 'local-app', '--grace', '5s'], {cwd: dir})
    port = await proxy.port()
    controlUrl = (await proxy.waitForEvent('control-listening')).url as string
    await proxy.waitForEvent('instance-ready', {instance: 'tcp-1'})
    token = JSON.parse(readFileSync(join(dir, STATE_FILE), 'utf8')).token
  })

  after(async () => {
    await proxy.cleanup()
    rmSync(dir, {recursive: true, force: true})
  })

  it('info --local shows the gateway and its instances, counting a connection made through it, with no token anywhere', async () => {
    const {servedBy, echoed} = await greetAndEcho(port, 'hello\n')
    expect(echoed).to.equal('hello\n')
    await proxy.waitForEvent('connection-closed', {instance: 'tcp-1'})

    // -a is ignored with --local: no API call is made, no token is needed
    const {code, stdout, stderr} = await runCli(['addons:tcp:info', '--local', '-a', 'some-other-app'], {cwd: dir})
    expect(stderr).to.equal('')
    expect(code).to.equal(0)
    const lines = stdout.split('\n')
    expect(lines[0]).to.equal('=== Local TCP gateway of local-app')
    expect(lines).to.include(`Directory:   ${dir}`)
    expect(lines).to.include(`TCP_URL:     tcp://127.0.0.1:${port}`)
    expect(lines).to.include('Host:        127.0.0.1')
    expect(lines).to.include(`Port:        ${port}`)
    expect(lines).to.include(`Control:     ${controlUrl}`)
    expect(lines).to.include(`Gateway PID: ${proxy.child.pid}`)
    expect(lines).to.include('Status:      running')
    expect(lines).to.include('Connections: 0 active, 1 in total')
    const header = lines.indexOf('=== instances')
    expect(lines[header + 1].split(/\s{2,}/)).to.deep.equal([
      'Name',
      'Gen',
      'State',
      'PID',
      'Port',
      'Uptime',
      'Active',
      'Total',
      'In',
      'Out',
      'Restarts',
    ])
    const row = lines[header + 2].split(/\s{2,}/)
    expect(row[0]).to.equal('tcp-1')
    expect(row.slice(1, 3)).to.deep.equal(['1', 'ready'])
    expect(Number(row[3])).to.be.greaterThan(0)
    expect(Number(row[4])).to.equal(servedBy)
    expect(row.slice(6)).to.deep.equal(['0', '1', '6 B', `${String(servedBy).length + 1 + 6} B`, '0'])
    expect(stdout).to.not.include(token)
  })

  it('info --local --json returns the typed object', async () => {
    const {code, stdout, stderr} = await runCli(['addons:tcp:info', '--local', '--json'], {cwd: dir})
    expect(stderr).to.equal('')
    expect(code).to.equal(0)
    expect(stdout).to.not.include(token)
    const info = JSON.parse(stdout)
    expect(info).to.include({
      local: true,
      app: 'local-app',
      dir,
      tcpUrl: `tcp://127.0.0.1:${port}`,
      host: '127.0.0.1',
      port,
      controlUrl,
      gatewayPid: proxy.child.pid,
      restarting: false,
    })
    expect(info.startedAt).to.be.a('string')
    expect(info.connections).to.deep.equal({active: 0, total: 1})
    expect(info.instances).to.have.length(1)
    const [tcp1] = info.instances
    expect(Object.keys(tcp1).sort()).to.deep.equal(
      [
        'activeConnections',
        'bytesIn',
        'bytesOut',
        'generation',
        'name',
        'pid',
        'port',
        'restarts',
        'state',
        'totalConnections',
        'type',
        'uptimeSeconds',
      ].sort(),
    )
    expect(tcp1).to.include({
      name: 'tcp-1',
      type: 'tcp',
      generation: 1,
      state: 'ready',
      activeConnections: 0,
      totalConnections: 1,
      bytesIn: 6,
      restarts: 0,
    })
    expect(tcp1.pid).to.be.a('number')
    expect(tcp1.port).to.be.a('number')
    expect(tcp1.uptimeSeconds).to.be.at.least(0)
  })

  it('restart --local performs the rolling restart, waits for it, and generation 2 serves new connections', async () => {
    const {code, stdout, stderr} = await runCli(['addons:tcp:restart', '--local'], {cwd: dir})
    expect(code, stderr).to.equal(0)
    expect(stdout).to.equal('')
    expect(stderr).to.include(
      'Note: connections open on the old tcp instances stay forwarded until their server closes them or the grace period ends',
    )
    expect(stderr).to.include('Restarting the local tcp instances of local-app\n')
    expect(stderr).to.match(/The local tcp instances of local-app restarted in \d+(\.\d)? s\n$/)
    expect((await proxy.waitForEvent('restart-completed', {generation: 2})).restarted).to.deep.equal(['tcp-1'])

    const info = JSON.parse((await runCli(['addons:tcp:info', '--local', '--json'], {cwd: dir})).stdout)
    const ready = info.instances.filter((i: any) => i.state === 'ready')
    expect(ready.map((i: any) => [i.name, i.generation])).to.deep.equal([['tcp-1', 2]])
    const {servedBy, echoed} = await greetAndEcho(port, 'after restart\n')
    expect(echoed).to.equal('after restart\n')
    expect(servedBy).to.equal(ready[0].port)
  })

  it('restart --local --json prints the platform shape plus the rolling restart report', async () => {
    const {code, stdout, stderr} = await runCli(['addons:tcp:restart', '--local', '--json'], {cwd: dir})
    expect(stderr).to.equal('')
    expect(code).to.equal(0)
    const result = JSON.parse(stdout)
    expect(result).to.include({app: 'local-app', waited: true})
    expect(result.scope).to.deep.equal(['tcp'])
    expect(result.operation).to.deep.include({type: 'restart', status: 'done', error: null})
    expect(result.operation.id).to.match(/^[0-9a-f-]{36}$/)
    expect(result.durationSeconds).to.be.a('number').and.at.least(0)
    expect(result.report).to.deep.include({generation: 3, restarted: ['tcp-1'], failed: []})
    expect(result.report.durationMs).to.be.a('number')
  })

  it('restart --local --no-wait returns once the restart is accepted', async () => {
    const {code, stdout, stderr} = await runCli(['addons:tcp:restart', '--local', '--no-wait', '--json'], {cwd: dir})
    expect(stderr).to.equal('')
    expect(code).to.equal(0)
    const result = JSON.parse(stdout)
    expect(result).to.include({app: 'local-app', waited: false, durationSeconds: null, report: null})
    expect(result.operation).to.include({type: 'restart', status: 'pending'})
    // it does happen, after the command has returned
    expect((await proxy.waitForEvent('restart-completed', {generation: 4})).failed).to.deep.equal([])

    const text = await runCli(['addons:tcp:restart', '--local', '--no-wait'], {cwd: dir})
    expect(text.code).to.equal(0)
    expect(text.stderr).to.match(
      /Restart of the local tcp instances of local-app requested \(operation [0-9a-f-]{36}\)\n$/,
    )
    await proxy.waitForEvent('restart-completed', {generation: 5})
  })
})

describe('addons:tcp:restart --local when the new generation does not become ready', function () {
  this.timeout(30_000)
  let dir: string
  let proxy: ProxyProcess

  before(async () => {
    dir = makeApp(`tcp: ${restartableEcho} --broken-if broken\n`)
    proxy = ProxyProcess.start(
      [
        '--app',
        'broken-app',
        '--grace',
        '5s',
        '--boot-timeout',
        '1s',
        '--restart-attempts',
        '1',
        '--backoff-base',
        '10ms',
      ],
      {cwd: dir},
    )
    await proxy.waitForEvent('instance-ready', {instance: 'tcp-1'})
    await proxy.waitForEvent('control-listening')
    writeFileSync(join(dir, 'broken'), '')
  })

  after(async () => {
    await proxy.cleanup()
    rmSync(dir, {recursive: true, force: true})
  })

  it('exits 5 after --wait-timeout, saying how to check later', async () => {
    const {code, stderr} = await runCli(['addons:tcp:restart', '--local', '--wait-timeout', '200ms'], {cwd: dir})
    expect(code).to.equal(5)
    const message = unwrap(stderr)
    expect(message).to.include(
      'Gave up waiting for the local tcp instances to restart after 0.2 s (last status: running).',
    )
    expect(message).to.include(
      'The local gateway carries on: check its state with `scalingo-tcp addons:tcp:info --local`',
    )
    expect(message).to.not.include('The platform carries on')
    expect(message).to.include('Restarting the local tcp instances of broken-app: stopped')
    await proxy.waitForEvent('restart-completed', {generation: 2})
  })

  it('exits 130 on Ctrl-C while waiting', async () => {
    const result = await interruptCli(['addons:tcp:restart', '--local'], /local tcp instances of broken-app: running/, {
      cwd: dir,
    })
    expect(result.sawPattern, result.stderr).to.equal(true)
    expect(result.code).to.equal(130)
    expect(unwrap(result.stderr)).to.include('Interrupted while waiting for the local tcp instances to restart.')
    await proxy.waitForEvent('restart-completed', {generation: 3})
  })

  it("exits 1 with the operation's message, and the old generation keeps serving", async () => {
    const {code, stdout, stderr} = await runCli(['addons:tcp:restart', '--local'], {cwd: dir})
    expect(code).to.equal(1)
    expect(stdout).to.equal('')
    expect(unwrap(stderr)).to.include(
      'Restarting the local tcp instances of broken-app failed: tcp-1 did not become ready: the previous generation keeps serving.',
    )
    const json = await runCli(['addons:tcp:restart', '--local', '--json'], {cwd: dir})
    expect(json.code).to.equal(1)
    expect(JSON.parse(json.stdout).error).to.include({code: 'OPERATION_FAILED', exitCode: 1})

    const info = JSON.parse((await runCli(['addons:tcp:info', '--local', '--json'], {cwd: dir})).stdout)
    expect(
      info.instances.filter((i: any) => i.state === 'ready').map((i: any) => [i.name, i.generation]),
    ).to.deep.equal([['tcp-1', 1]])
  })
})

describe('addons:tcp:info --local and addons:tcp:restart --local without a running gateway', () => {
  let dir: string

  before(() => {
    dir = emptyAppRoot('scalingo-tcp-nogw-')
  })

  after(() => rmSync(dir, {recursive: true, force: true}))

  for (const command of ['addons:tcp:info', 'addons:tcp:restart']) {
    it(`${command} --local says so with exit 1 and how to start one`, async () => {
      const {code, stdout, stderr} = await runCli([command, '--local'], {cwd: dir})
      expect(code).to.equal(1)
      expect(stdout).to.equal('')
      expect(unwrap(stderr)).to.include(`No local gateway is running in ${dir}.`)
      expect(unwrap(stderr)).to.include('scalingo-tcp tcp:proxy')
      const json = await runCli([command, '--local', '--json'], {cwd: dir})
      expect(json.code).to.equal(1)
      expect(JSON.parse(json.stdout).error).to.include({code: 'NO_LOCAL_GATEWAY', exitCode: 1})
    })
  }
})
