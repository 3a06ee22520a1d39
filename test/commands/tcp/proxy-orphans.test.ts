import {expect} from 'chai'
import {spawn} from 'node:child_process'
import {readFileSync, realpathSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'

import {STATE_FILE_NAME} from '../../../src/lib/contract.js'
import {freePort} from '../../../src/lib/gateway/ports.js'
import {runCli, unwrap} from '../../support/cli.js'
import {isLive, liveGroupMembers, waitUntilDead, waitUntilNoLiveMembers} from '../../support/processes.js'
import {type Event, ProxyProcess, SERVERS, makeApp} from '../../support/proxy.js'

const echo = `node ${join(SERVERS, 'echo-server.mjs')}`
const neverListens = `node ${join(SERVERS, 'never-listens.mjs')}`

const outputOf = (instance: string, pattern: RegExp) => (e: Event) =>
  e.event === 'output' && e.instance === instance && pattern.test(e.line)

/** A pid that is certainly not running: a child that has already exited. */
function deadPid(): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['-e', ''], {stdio: 'ignore'})
    child.on('error', reject)
    child.on('exit', () => resolve(child.pid!))
  })
}

describe('tcp:proxy: nothing outlives it, one gateway per directory', function () {
  this.timeout(40_000)
  const proxies: ProxyProcess[] = []
  const strays: number[] = []

  afterEach(async () => {
    await Promise.all(proxies.splice(0).map((p) => p.cleanup()))
    for (const pid of strays.splice(0)) {
      try {
        process.kill(pid, 'SIGKILL')
      } catch {
        // already gone
      }
    }
  })

  function start(args: string[], cwd: string): ProxyProcess {
    const proxy = ProxyProcess.start(args, {cwd})
    proxies.push(proxy)
    return proxy
  }

  it('SIGKILLed, its instances end within about a second on their own (the watchdog on their inherited pipe)', async () => {
    const webPort = await freePort()
    const dir = makeApp(`tcp: ${echo}\nweb: sh -c "sleep 1000 & exec ${echo}"\n`)
    const proxy = start(['--web-port', String(webPort)], dir)
    await proxy.waitForEvent('instance-ready', {instance: 'tcp-1'})
    await proxy.waitFor(outputOf('web-1', new RegExp(`^listening on ${webPort}$`)))
    const groups = proxy.events.filter((e) => e.event === 'instance-starting').map((e) => e.pid as number)
    expect(groups).to.have.length(2)
    const web = await proxy.waitForEvent('instance-starting', {instance: 'web-1'})
    expect(liveGroupMembers(web.pid).length).to.be.greaterThan(1) // web-1's server and its sleep

    proxy.child.kill('SIGKILL')
    await proxy.exited
    const killed = Date.now()
    // SIGTERM at once, SIGKILL a second later: 3 s is a safety net, not a timing bet
    for (const pgid of groups) await waitUntilNoLiveMembers(pgid, 3000)
    expect(Date.now() - killed).to.be.below(3000)

    // the next one in the directory starts cleanly: the web port is free again, nothing is left to stop
    const next = start(['--web-port', String(webPort)], dir)
    await next.waitForEvent('instance-ready', {instance: 'tcp-1'})
    await next.waitFor(outputOf('web-1', new RegExp(`^listening on ${webPort}$`)))
    expect(next.count('leftovers-stopping')).to.equal(0)
    expect(next.count('instance-exited')).to.equal(0)
    expect((await next.stop()).code).to.equal(0)
  })

  it('the next tcp:proxy in the directory stops what a SIGKILLed one left (a daemon holding the web port), then starts cleanly', async () => {
    const webPort = await freePort()
    // the web server daemonizes (setsid -f: out of the group, out of the watchdog's reach) and holds PORT
    const dir = makeApp(`tcp: ${echo}\nweb: setsid -f sh -c 'echo DAEMON $$; exec ${echo}'; exec sleep 1000\n`)
    const first = start(['--web-port', String(webPort), '--grace', '2s'], dir)
    await first.waitForEvent('instance-ready', {instance: 'tcp-1'})
    const daemon = Number((await first.waitFor(outputOf('web-1', /^DAEMON \d+$/))).line.split(' ')[1])
    strays.push(daemon)
    await first.waitFor(outputOf('web-1', new RegExp(`^listening on ${webPort}$`)))
    const groups = first.events.filter((e) => e.event === 'instance-starting').map((e) => e.pid as number)

    first.child.kill('SIGKILL')
    await first.exited
    for (const pgid of groups) await waitUntilNoLiveMembers(pgid, 3000)
    expect(isLive(daemon)).to.equal(true) // the watchdog cannot see it: only the next gateway can
    const state = JSON.parse(readFileSync(join(dir, STATE_FILE_NAME), 'utf8'))
    expect(state.pid).to.equal(first.pid) // left by the killed gateway: it says what to look for

    const second = start(['--web-port', String(webPort), '--grace', '2s'], dir)
    const leftovers = await second.waitForEvent('leftovers-stopping')
    expect(leftovers).to.include({gatewayPid: first.pid, graceMs: 2000})
    expect(leftovers.pids).to.deep.equal([daemon])
    await second.waitForEvent('gateway-listening')
    expect(isLive(daemon)).to.equal(false) // stopped before the gateway listens or any instance starts
    expect(second.events.findIndex((e) => e.event === 'leftovers-stopping')).to.be.below(
      second.events.findIndex((e) => e.event === 'gateway-listening'),
    )
    await second.waitForEvent('instance-ready', {instance: 'tcp-1'})
    await second.waitFor(outputOf('web-1', new RegExp(`^listening on ${webPort}$`)))
    expect(second.events.some(outputOf('web-1', /EADDRINUSE/))).to.equal(false)
    expect(JSON.parse(readFileSync(join(dir, STATE_FILE_NAME), 'utf8')).pid).to.equal(second.pid)
    const secondDaemon = Number((await second.waitFor(outputOf('web-1', /^DAEMON \d+$/))).line.split(' ')[1])
    strays.push(secondDaemon)
    expect((await second.stop()).code).to.equal(0)
    await waitUntilDead([secondDaemon])
  })

  it('on SIGTERM, descendants that left their process group (setsid) get SIGTERM too and none survives', async () => {
    const daemon = `setsid sh -c 'trap "echo daemon got SIGTERM; exit 0" TERM; sleep 1000 & echo DAEMON $$ $!; wait' &`
    const dir = makeApp(`tcp: ${daemon} exec ${echo}\n`)
    const proxy = start(['--grace', '10s'], dir)
    const ready = proxy.waitForEvent('instance-ready', {instance: 'tcp-1'})
    const line = await proxy.waitFor(outputOf('tcp-1', /^DAEMON \d+ \d+$/))
    await ready
    const pids = line.line.split(' ').slice(1).map(Number)
    strays.push(...pids)
    const {pid: pgid} = await proxy.waitForEvent('instance-starting', {instance: 'tcp-1'})
    for (const pid of pids) expect(liveGroupMembers(pgid)).to.not.include(pid) // out of the instance's group

    const stopping = Date.now()
    const exit = await proxy.stop('SIGTERM')
    expect(exit.code).to.equal(0)
    expect(Date.now() - stopping).to.be.below(8000) // SIGTERM ended them: nobody waited for the 10 s grace
    expect(proxy.events.some(outputOf('tcp-1', /^daemon got SIGTERM$/))).to.equal(true)
    await waitUntilDead(pids, 2000)
  })

  it('a second tcp:proxy in the same directory refuses, naming the running one, and leaves it alone', async () => {
    const dir = makeApp(`tcp: ${echo}\n`)
    const first = start([], dir)
    await first.waitForEvent('instance-ready', {instance: 'tcp-1'})
    const {tcpUrl} = await first.waitForEvent('gateway-listening')
    await first.waitForEvent('control-listening')
    const stateBefore = readFileSync(join(dir, STATE_FILE_NAME), 'utf8')

    const second = await runCli(['tcp:proxy', '--port', '0'], {cwd: dir, timeoutMs: 15_000})
    expect(second.code).to.equal(1)
    expect(unwrap(second.stderr)).to.contain(
      `Another tcp:proxy is running in ${realpathSync(dir)} (pid ${first.pid}, TCP_URL=${tcpUrl}).`,
    )
    expect(unwrap(second.stderr)).to.contain(`kill ${first.pid}`)
    expect(second.stderr).to.not.match(/\n\s+at /)
    expect(second.stdout).to.equal('') // refused before starting anything

    expect(first.alive).to.equal(true)
    expect(readFileSync(join(dir, STATE_FILE_NAME), 'utf8')).to.equal(stateBefore)
    const local = await runCli(['addons:tcp:info', '--local'], {cwd: dir})
    expect(local.code, local.stderr).to.equal(0)
    expect(local.stdout).to.contain(tcpUrl)
    expect((await first.stop()).code).to.equal(0)
  })

  it('refuses while the first one is still booting its instances too', async () => {
    const dir = makeApp(`tcp: ${neverListens}\n`)
    const first = start(['--boot-timeout', '60s'], dir)
    await first.waitFor(outputOf('tcp-1', /^started, not listening$/))
    const second = await runCli(['tcp:proxy', '--port', '0'], {cwd: dir, timeoutMs: 15_000})
    expect(second.code).to.equal(1)
    expect(unwrap(second.stderr)).to.contain(
      `Another tcp:proxy is running in ${realpathSync(dir)} (pid ${first.pid}, still starting).`,
    )
    expect(first.alive).to.equal(true)
  })

  it('replaces a stale state file (its pid is not running, or is a later process reusing it) and starts', async () => {
    const dir = makeApp(`tcp: ${echo}\n`)
    const stale = (pid: number, extra: Record<string, unknown> = {}) =>
      writeFileSync(
        join(dir, STATE_FILE_NAME),
        JSON.stringify({
          pid,
          url: 'http://127.0.0.1:9',
          token: 't',
          tcpUrl: 'tcp://127.0.0.1:9',
          app: 'a',
          startedAt: '',
          version: '0',
          ...extra,
        }),
        {mode: 0o600},
      )
    const dead = await deadPid()
    for (const write of [() => stale(dead), () => stale(process.pid, {startTime: '1', marker: `${process.pid}:abc`})]) {
      write()
      const proxy = start([], dir)
      await proxy.waitForEvent('instance-ready', {instance: 'tcp-1'})
      await proxy.waitForEvent('control-listening')
      expect(JSON.parse(readFileSync(join(dir, STATE_FILE_NAME), 'utf8')).pid).to.equal(proxy.pid)
      expect(proxy.count('leftovers-stopping')).to.equal(0)
      expect((await proxy.stop()).code).to.equal(0)
      proxies.splice(proxies.indexOf(proxy), 1)
    }
  })
})
