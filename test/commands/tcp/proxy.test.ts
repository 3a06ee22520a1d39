import {expect} from 'chai'
import net from 'node:net'
import {join} from 'node:path'

import {runCli} from '../../support/cli.js'
import {liveGroupMembers, waitUntilNoLiveMembers} from '../../support/processes.js'
import {emptyAppRoot, type Event, ProxyProcess, SERVERS, makeApp} from '../../support/proxy.js'
import {exchange} from '../../support/sockets.js'
import {defaultTransport, loadsNativeAddon} from '../../support/transports.js'

const echo = `node ${join(SERVERS, 'echo-server.mjs')}`
const envDump = `node ${join(SERVERS, 'env-dump.mjs')}`

describe('tcp:proxy', function () {
  this.timeout(30_000)
  let proxy: ProxyProcess | undefined

  afterEach(async () => {
    if (proxy) await proxy.cleanup()
    proxy = undefined
  })

  it('starts the tcp instances, balances connections round-robin and pins each one', async () => {
    const dir = makeApp(`tcp: ${echo}\n`)
    proxy = ProxyProcess.start(['-m', 'tcp=2', '--grace', '5s'], {cwd: dir})
    const port = await proxy.port()
    await proxy.waitForEvent('instance-ready', {instance: 'tcp-1'})
    await proxy.waitForEvent('instance-ready', {instance: 'tcp-2'})

    for (let i = 0; i < 4; i++) expect(await exchange(port, `hello ${i}\n`)).to.equal(`hello ${i}\n`)
    const opened: Event[] = []
    for (let id = 1; id <= 4; id++)
      opened.push(await proxy.waitFor((e) => e.event === 'connection-opened' && e.id === opened.length + 1))
    expect(opened.map((e) => e.instance)).to.have.members(['tcp-1', 'tcp-2', 'tcp-1', 'tcp-2'])
    expect(opened[0].instance).to.not.equal(opened[1].instance)
    const closed = await proxy.waitFor((e) => e.event === 'connection-closed' && e.id === 1)
    expect(closed.bytesIn).to.equal('hello 0\n'.length)
    expect(closed.bytesOut).to.equal('hello 0\n'.length)
  })

  it("gives every process the platform environment, TCP_URL overriding .env, never the user's API token", async () => {
    const dir = makeApp(`tcp: ${echo}\nweb: ${envDump}\nworker: ${envDump}\n`, {
      '.env': 'TCP_URL=tcp://stale:1\nGREETING="hi there"\n',
    })
    proxy = ProxyProcess.start(['--app', 'my-app', '--web-port', '5123'], {
      cwd: dir,
      env: {SCALINGO_API_TOKEN: 'tk-us-secret-never-in-containers', FROM_PARENT: 'yes'},
    })
    const port = await proxy.port()
    const dumps = new Map<string, Record<string, string>>()
    for (const instance of ['web-1', 'worker-1']) {
      const line = await proxy.waitFor(
        (e) => e.event === 'output' && e.instance === instance && e.line.startsWith('ENV '),
      )
      dumps.set(instance, JSON.parse(line.line.slice(4)))
    }

    const web = dumps.get('web-1')!
    expect(web).to.include({
      TCP_URL: `tcp://127.0.0.1:${port}`,
      PORT: '5123',
      CONTAINER: 'web-1',
      APP: 'my-app',
      HOSTNAME: 'my-app-web-1',
      GREETING: 'hi there',
    })
    expect(web.CONTAINER_VERSION).to.be.a('string')
    expect(web.FROM_PARENT).to.equal('yes')
    expect(web).to.not.have.property('SCALINGO_API_TOKEN')
    const worker = dumps.get('worker-1')!
    expect(worker.TCP_URL).to.equal(`tcp://127.0.0.1:${port}`)
    expect(worker.CONTAINER).to.equal('worker-1')
    expect(worker).to.not.have.property('PORT')
  })

  it('.env variables named like Object.prototype members (__proto__, constructor, toString) reach the instances and env --local', async () => {
    const dir = makeApp(`tcp: ${echo}\nworker: ${envDump}\n`, {'.env': '__proto__=x\nconstructor=y\ntoString=z\n'})
    proxy = ProxyProcess.start([], {cwd: dir})
    const line = await proxy.waitFor(
      (e) => e.event === 'output' && e.instance === 'worker-1' && e.line.startsWith('ENV '),
    )
    const env = JSON.parse(line.line.slice(4)) as Record<string, string>
    expect(Object.hasOwn(env, '__proto__') && env.__proto__).to.equal('x')
    expect(env).to.include({constructor: 'y', toString: 'z'})
    await proxy.waitForEvent('status-page')
    const local = await runCli(['env', '--local', '__proto__'], {cwd: dir})
    expect(local.stdout, local.stderr).to.equal('x\n')
    expect((await runCli(['env', '--local', '--shell'], {cwd: dir})).stdout).to.include("export __proto__='x'\n")
  })

  it('stops gracefully on SIGTERM, exits 0 and leaves no process behind, grandchildren included', async () => {
    const dir = makeApp(`tcp: sh -c "sleep 1000 & exec ${echo}"\n`)
    proxy = ProxyProcess.start([], {cwd: dir})
    const started = await proxy.waitForEvent('instance-starting', {instance: 'tcp-1'})
    await proxy.waitForEvent('instance-ready', {instance: 'tcp-1'})
    expect(liveGroupMembers(started.pid)).to.have.length.greaterThan(1)
    const exit = await proxy.stop('SIGTERM')
    expect(exit.code).to.equal(0)
    expect(proxy.events.some((e) => e.event === 'stopped')).to.equal(true)
    await waitUntilNoLiveMembers(started.pid, 8000)
  })

  it('balances to --upstream servers without any Procfile', async () => {
    const upstream = net.createServer((s) => s.once('data', () => s.end('from upstream\n')))
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve))
    const emptyDir = emptyAppRoot('scalingo-tcp-empty-')
    try {
      proxy = ProxyProcess.start(['--upstream', `127.0.0.1:${(upstream.address() as net.AddressInfo).port}`], {
        cwd: emptyDir,
      })
      const port = await proxy.port()
      await proxy.waitForEvent('upstream-ready')
      expect(await exchange(port, 'x')).to.equal('from upstream\n')
    } finally {
      upstream.close()
    }
  })

  it('serves on the native relay when it is built, else net.Socket, unless SCALINGO_TCP_GATEWAY_IO picks one, and names the one serving', async () => {
    const upstream = net.createServer((s) => s.once('data', () => s.end('from upstream\n')))
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve))
    const emptyDir = emptyAppRoot('scalingo-tcp-empty-')
    const args = ['--upstream', `127.0.0.1:${(upstream.address() as net.AddressInfo).port}`]
    // 'native' without its addon (not built, not expected) falls back to net.Socket; an unknown value is unset.
    const native = defaultTransport()
    const cases = [
      ['', native],
      ['native', native],
      ['streams', 'streams'],
      ['handles', native],
    ]
    try {
      for (const [io, serving] of cases) {
        // An empty value is the default (and overrides a value the developer's environment may pass through).
        proxy = ProxyProcess.start(args, {cwd: emptyDir, env: {SCALINGO_TCP_GATEWAY_IO: io}})
        const port = await proxy.port()
        const listening = await proxy.waitForEvent('gateway-listening')
        expect(listening.transport, `SCALINGO_TCP_GATEWAY_IO=${io}`).to.equal(serving)
        expect(await exchange(port, 'x')).to.equal('from upstream\n')
        // What the process really loaded (Linux): the native relay's addon exactly when it serves.
        const loaded = loadsNativeAddon(proxy.pid)
        if (loaded !== undefined)
          expect(loaded, `relay.node loaded with SCALINGO_TCP_GATEWAY_IO=${io}`).to.equal(serving === 'native')
        await proxy.cleanup()
        proxy = undefined
      }
    } finally {
      upstream.close()
    }
  })

  it('refuses a port already in use, suggesting --port', async () => {
    const blocker = net.createServer()
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve))
    try {
      const dir = makeApp(`tcp: ${echo}\n`)
      const result = await runCli(['tcp:proxy', '--port', String((blocker.address() as net.AddressInfo).port)], {
        cwd: dir,
      })
      expect(result.code).to.equal(1)
      expect(result.stderr).to.match(/in use/)
      expect(result.stderr).to.contain('--port')
      expect(result.stderr).to.not.match(/\n\s+at /)
    } finally {
      blocker.close()
    }
  })

  it('explains a missing Procfile and a Procfile without a tcp type', async () => {
    const missing = await runCli(['tcp:proxy', '-f', 'nope/Procfile'])
    expect(missing.code).to.equal(1)
    expect(missing.stderr).to.match(/Procfile/)
    const noTcp = await runCli(['tcp:proxy', '--port', '0'], {cwd: makeApp(`web: ${echo}\n`)})
    expect(noTcp.code).to.equal(1)
    expect(noTcp.stderr).to.match(/tcp/)
  })

  it('tells a server that binds the TCP_URL port instead of $PORT what it did wrong', async () => {
    const bindsTcpUrlPort = `node -e "require('net').createServer().listen(Number(process.env.TCP_URL.split(':').pop()))"`
    const dir = makeApp(`tcp: ${bindsTcpUrlPort}\n`)
    proxy = ProxyProcess.start(['--max-crashes', '0', '--grace', '1s'], {cwd: dir})
    const port = await proxy.port()
    const exit = await proxy.exited
    expect(exit.code).to.equal(1)
    expect(proxy.stderr).to.match(/No tcp instance became ready|Every tcp instance crashed/)
    expect(proxy.stderr.replaceAll(/\s+›?\s*/g, ' ')).to.include(
      `tcp-1 tried to listen on ${port}, the TCP_URL port, which belongs to the gateway: listen on $PORT instead.`,
    )
  })

  it('a tcp instance that exits during the first boot is not restarted, whatever --max-crashes, and the log says so', async () => {
    const dir = makeApp(`tcp: node ${join(SERVERS, 'crash.mjs')} 3 'cannot find module'\n`)
    proxy = ProxyProcess.start(['--max-crashes', '5', '--backoff-base', '50ms', '--grace', '1s'], {cwd: dir})
    const failed = await proxy.waitForEvent('instance-boot-failed', {instance: 'tcp-1'})
    expect(failed.reason).to.match(
      /^exited before accepting a TCP connection on PORT \d+: not restarted, a start-up fails like a deployment/,
    )
    expect(failed.lastLines).to.include('cannot find module')
    expect((await proxy.exited).code).to.equal(1)
    // It used to announce "restarting tcp-1 in 1.0 s" and shut down at once.
    expect(proxy.count('instance-restarting')).to.equal(0)
    expect(proxy.count('instance-starting')).to.equal(1)
    expect(proxy.stderr).to.match(/No tcp instance became ready/)
  })

  it('when another tcp instance became ready, the gateway serves with it and a rolling restart brings the failed one back', async () => {
    const crashOnce = `if [ "$CONTAINER" = tcp-1 ] && [ -e crash-once ]; then rm crash-once; exit 3; fi; exec ${echo}`
    const dir = makeApp(`tcp: ${crashOnce}\n`, {'crash-once': ''})
    proxy = ProxyProcess.start(['-m', 'tcp=2', '--grace', '1s'], {cwd: dir})
    const port = await proxy.port()
    await proxy.waitForEvent('instance-boot-failed', {instance: 'tcp-1'})
    await proxy.waitForEvent('instance-ready', {instance: 'tcp-2'})
    await proxy.waitForEvent('status-page')
    expect(await exchange(port, 'served\n')).to.equal('served\n')
    expect(proxy.count('instance-restarting')).to.equal(0)
    const restart = await runCli(['addons:tcp:restart', '--local'], {cwd: dir})
    expect(restart.code, restart.stderr).to.equal(0)
    await proxy.waitForEvent('instance-ready', {instance: 'tcp-1', generation: 2})
  })

  it('reports an instance that never listens, with its last output, and exits non-zero', async () => {
    const dir = makeApp(`tcp: node ${join(SERVERS, 'never-listens.mjs')}\n`)
    proxy = ProxyProcess.start(['--boot-timeout', '1s', '--grace', '1s'], {cwd: dir})
    const failed = await proxy.waitForEvent('instance-boot-failed', {instance: 'tcp-1'})
    expect(failed.reason).to.match(/did not accept/)
    const exit = await proxy.exited
    expect(exit.code).to.equal(1)
    expect(proxy.stderr).to.match(/No tcp instance became ready/)
  })
})
