import {expect} from 'chai'
import {readFileSync, rmSync} from 'node:fs'
import net from 'node:net'
import {join} from 'node:path'

import {runCli, unwrapAll} from '../../support/cli.js'
import {makeApp, ProxyProcess, SERVERS} from '../../support/proxy.js'
import {exchange} from '../../support/sockets.js'

const echo = `node ${join(SERVERS, 'echo-server.mjs')}`
const envDump = `node ${join(SERVERS, 'env-dump.mjs')}`

/** Whether this machine has an IPv6 loopback to listen on (containers may have IPv6 off). */
function canListenOnIpv6Loopback(): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer()
    server.once('error', () => resolve(false))
    server.listen(0, '::1', () => server.close(() => resolve(true)))
  })
}

describe('tcp:proxy --host ::1 (IPv6): TCP_URL is tcp://[::1]:PORT everywhere', function () {
  this.timeout(30_000)
  let dir: string
  let proxy: ProxyProcess
  let port: number

  before(async function () {
    if (!(await canListenOnIpv6Loopback())) this.skip()
    dir = makeApp(`tcp: ${echo}\nworker: ${envDump}\n`)
    proxy = ProxyProcess.start(['--host', '::1', '--app', 'v6-app'], {cwd: dir})
    port = await proxy.port()
    await proxy.waitForEvent('instance-ready', {instance: 'tcp-1'})
    await proxy.waitForEvent('status-page')
  })

  after(async () => {
    await proxy?.cleanup()
    if (dir) rmSync(dir, {recursive: true, force: true})
  })

  it('announces tcp://[::1]:PORT, a URL new URL() reads, and forwards connections made to [::1]', async () => {
    const listening = await proxy.waitForEvent('gateway-listening')
    expect(listening).to.include({host: '::1', tcpUrl: `tcp://[::1]:${port}`})
    expect(new URL(listening.tcpUrl as string).port).to.equal(String(port))
    expect(await exchange(port, 'over IPv6\n', '::1')).to.equal('over IPv6\n')
  })

  it('gives the instances, the state file, env --local and addons:tcp:info --local the same TCP_URL', async () => {
    const dump = await proxy.waitFor(
      (e) => e.event === 'output' && e.instance === 'worker-1' && String(e.line).startsWith('ENV '),
    )
    expect(JSON.parse(String(dump.line).slice(4)).TCP_URL).to.equal(`tcp://[::1]:${port}`)
    expect(JSON.parse(readFileSync(join(dir, '.scalingo-tcp.json'), 'utf8')).tcpUrl).to.equal(`tcp://[::1]:${port}`)

    const [single, shell, info, infoText] = await Promise.all([
      runCli(['env', '--local', 'TCP_URL'], {cwd: dir}),
      runCli(['env', '--local', '--shell'], {cwd: dir}),
      runCli(['addons:tcp:info', '--local', '--json'], {cwd: dir}),
      runCli(['addons:tcp:info', '--local'], {cwd: dir}),
    ])
    expect(single.stdout).to.equal(`tcp://[::1]:${port}\n`)
    expect(shell.stdout).to.include(`export TCP_URL='tcp://[::1]:${port}'\n`)
    expect(info.code, info.stderr).to.equal(0)
    expect(JSON.parse(info.stdout)).to.include({tcpUrl: `tcp://[::1]:${port}`, host: '::1', port})
    expect(infoText.stdout).to.match(/^Host: +::1$/m)
    expect(infoText.stdout).to.match(new RegExp(`^Port: +${port}$`, 'm'))
  })

  it('logs [::1]:PORT, and a failed boot on ::1 gives its real reason (not "Invalid URL")', async () => {
    const crashing = makeApp(`tcp: node -e "process.exit(3)"\n`)
    try {
      const run = await runCli(['tcp:proxy', '--port', '0', '--host', '::1', '--max-crashes', '1'], {cwd: crashing})
      expect(run.code).to.equal(1)
      expect(run.stdout).to.match(
        /gateway \| listening on \[::1\]:(\d+) {2}TCP_URL=tcp:\/\/\[::1\]:\1 {2}\((native relay|net\.Socket transport)\)\n/,
      )
      expect(unwrapAll(run.stderr)).to.include('No tcp instance became ready')
      expect(run.stderr).to.not.include('Invalid URL')
    } finally {
      rmSync(crashing, {recursive: true, force: true})
    }
  })
})
