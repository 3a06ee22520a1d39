import {expect} from 'chai'
import {execFile, spawn} from 'node:child_process'
import {realpathSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {fileURLToPath} from 'node:url'
import {promisify} from 'node:util'

import {
  type ManagedProcess,
  type ProcessSpec,
  Supervisor,
  type SupervisorEvent,
  killProcessGroup,
} from '../../../src/lib/supervisor/supervisor.js'
import {MARKER_VARIABLE} from '../../../src/lib/supervisor/strays.js'
import {
  exists,
  isLive,
  liveGroupMembers,
  pollUntil,
  waitUntilDead,
  waitUntilGone,
  waitUntilNoLiveMembers,
} from '../../support/processes.js'
import {NODE, fixture, outputMatching, waitForEvent} from './helpers.js'

const execFileP = promisify(execFile)

type OutputEvent = Extract<SupervisorEvent, {type: 'output'}>

describe('Supervisor', function () {
  this.timeout(20_000)
  let supervisor: Supervisor
  let events: SupervisorEvent[]
  const leftovers: number[] = []

  beforeEach(() => {
    supervisor = new Supervisor()
    events = []
    supervisor.on('event', (event) => events.push(event))
  })

  afterEach(async () => {
    supervisor.killAll()
    await Promise.all(supervisor.processes().map((managed) => managed.exited))
    for (const pid of leftovers.splice(0)) {
      try {
        process.kill(pid, 'SIGKILL')
      } catch {
        // already gone
      }
    }
  })

  function spec(id: string, command: string, env: Record<string, string> = {}): ProcessSpec {
    return {
      id,
      type: id.split('-')[0],
      command,
      cwd: tmpdir(),
      env: {PATH: process.env.PATH ?? '/usr/bin:/bin', ...env},
    }
  }

  /** Polls until the group has `size` live members (they start in the background, with no event of theirs). */
  function waitForGroupSize(pgid: number, size: number): Promise<void> {
    return pollUntil(
      () => liveGroupMembers(pgid).length >= size,
      () => `group ${pgid} to have ${size} members (it has ${liveGroupMembers(pgid).length})`,
      5000,
      10,
    )
  }

  const linesOf = (id: string) =>
    events.filter((e): e is OutputEvent => e.type === 'output' && e.id === id).map((e) => e.line)

  async function startListening(
    id: string,
    command: string,
    env: Record<string, string> = {},
  ): Promise<ManagedProcess> {
    const listening = waitForEvent(supervisor, outputMatching(id, /^listening on \d+$/))
    const managed = supervisor.start(spec(id, command, {PORT: '0', HOST: '127.0.0.1', ...env}))
    await listening
    return managed
  }

  it('gives the child exactly the environment of its spec and reports spawned, output, exited in order', async () => {
    const managed = supervisor.start(
      spec('tcp-1', fixture('env-dump.mjs', '--exit'), {CONTAINER: 'tcp-1', TRICKY: 'a b "c" $HOME \n d'}),
    )
    expect(managed.pid).to.be.a('number').above(1)
    expect(managed.running).to.equal(true)
    const info = await managed.exited
    expect(info).to.deep.equal({code: 0, signal: null, expected: false})

    const dump = linesOf('tcp-1').find((line) => line.startsWith('ENV '))
    const env = JSON.parse(dump!.slice(4))
    expect(env.CONTAINER).to.equal('tcp-1')
    expect(env.TRICKY).to.equal('a b "c" $HOME \n d')
    expect(env).to.not.have.property('HOME') // nothing is inherited from the parent
    expect(events.map((e) => e.type)).to.deep.equal(['spawned', 'output', 'exited'])
    expect(events[0]).to.deep.equal({type: 'spawned', id: 'tcp-1', pid: managed.pid})
    expect(events[2]).to.deep.equal({
      type: 'exited',
      id: 'tcp-1',
      pid: managed.pid,
      code: 0,
      signal: null,
      expected: false,
    })
    expect(managed.running).to.equal(false)
    expect(supervisor.processes()).to.deep.equal([])
  })

  it('runs the command through /bin/sh in the given cwd, as the leader of its own process group', async () => {
    const managed = supervisor.start(spec('web-1', 'echo "cwd=$(pwd)"; ps -o pgid= -p $$'))
    await managed.exited
    const [cwd, pgid] = linesOf('web-1')
    expect(cwd).to.equal(`cwd=${realpathSync(tmpdir())}`)
    expect(Number(pgid.trim())).to.equal(managed.pid)
  })

  it('stop() sends SIGTERM to the group; a process that exits on it is expected', async () => {
    const managed = await startListening('tcp-1', `exec ${fixture('echo-server.mjs')}`)
    expect(supervisor.processes()).to.deep.equal([managed])
    const started = Date.now()
    const info = await managed.stop(10_000)
    expect(info).to.deep.equal({code: 0, signal: null, expected: true})
    expect(Date.now() - started).to.be.below(5000)
    expect(linesOf('tcp-1')).to.include('SIGTERM received')
    expect(managed.stop(10_000)).to.equal(managed.stop(1)) // idempotent: the same promise
    expect(await managed.stop(1)).to.deep.equal(info)
  })

  it('runs a simple Procfile command as the group leader itself, so its own exit code is reported', async () => {
    const managed = await startListening('tcp-1', fixture('echo-server.mjs'))
    expect(await managed.stop(10_000)).to.deep.equal({code: 0, signal: null, expected: true})
  })

  it('lets the rest of the group finish its graceful shutdown when the shell leader dies first', async () => {
    // `; echo` keeps sh from exec-ing node: SIGTERM kills sh at once while node is still closing
    const slowShutdown = `process.on('SIGTERM', () => setTimeout(() => { console.log('cleaned up'); process.exit(0) }, 300)); setInterval(() => {}, 1e6); console.log('listening on 1')`
    const managed = await startListening('tcp-1', `${NODE} -e "${slowShutdown}"; echo after`)
    const info = await managed.stop(10_000)
    expect(info.expected).to.equal(true)
    expect(linesOf('tcp-1')).to.include('cleaned up')
    expect(linesOf('tcp-1')).to.not.include('after')
    await waitUntilNoLiveMembers(managed.pid)
  })

  it('SIGKILLs a process that ignores SIGTERM once the grace period is over', async () => {
    const managed = await startListening('tcp-1', `exec ${fixture('ignore-sigterm.mjs')}`)
    const ignored = waitForEvent(supervisor, outputMatching('tcp-1', /^ignoring SIGTERM$/))
    const started = Date.now()
    const info = await managed.stop(400)
    const elapsed = Date.now() - started
    await ignored
    expect(info).to.deep.equal({code: null, signal: 'SIGKILL', expected: true})
    expect(elapsed).to.be.at.least(390).and.below(4000)
  })

  it('leaves no orphan after stop(): sh -c "sleep 1000 & exec node echo-server.mjs"', async () => {
    const sleepLine = waitForEvent(supervisor, outputMatching('tcp-1', /^SLEEP \d+$/))
    const managed = await startListening('tcp-1', `sleep 1000 & echo "SLEEP $!"; exec ${fixture('echo-server.mjs')}`)
    const sleepPid = Number((await sleepLine).line.split(' ')[1])
    leftovers.push(sleepPid)
    expect(exists(sleepPid)).to.equal(true)

    const info = await managed.stop(5000)
    expect(info.expected).to.equal(true)
    await waitUntilNoLiveMembers(managed.pid)
    await waitUntilGone(-managed.pid)
    expect(() => process.kill(-managed.pid, 0))
      .to.throw()
      .with.property('code', 'ESRCH')
    await waitUntilGone(sleepPid)
  })

  it('kills a grandchild that ignores SIGTERM when the grace period ends, though the leader exited', async () => {
    const sleepLine = waitForEvent(supervisor, outputMatching('tcp-1', /^SLEEP \d+$/))
    const managed = await startListening(
      'tcp-1',
      `trap '' TERM; sleep 1000 & echo "SLEEP $!"; exec ${fixture('echo-server.mjs')}`,
    )
    const sleepPid = Number((await sleepLine).line.split(' ')[1])
    leftovers.push(sleepPid)

    const started = Date.now()
    const info = await managed.stop(500)
    expect(Date.now() - started).to.be.at.least(490)
    expect(linesOf('tcp-1')).to.include('SIGTERM received')
    expect(info).to.deep.equal({code: 0, signal: null, expected: true}) // the leader's own exit
    await waitUntilNoLiveMembers(managed.pid)
    await waitUntilGone(sleepPid)
  })

  it('reports a process that exits on its own as unexpected and kills its grandchildren too', async () => {
    const sleepLine = waitForEvent(supervisor, outputMatching('tcp-1', /^SLEEP \d+$/))
    const exited = waitForEvent(supervisor, (e): e is Extract<SupervisorEvent, {type: 'exited'}> => e.type === 'exited')
    // the grandchild holds no pipe of ours: only the group kill can find it
    const managed = supervisor.start(
      spec('tcp-1', `sleep 1000 >/dev/null 2>&1 & echo "SLEEP $!"; exec ${fixture('crash.mjs')}`),
    )
    const sleepPid = Number((await sleepLine).line.split(' ')[1])
    leftovers.push(sleepPid)

    const event = await exited
    expect(event).to.deep.equal({type: 'exited', id: 'tcp-1', pid: managed.pid, code: 1, signal: null, expected: false})
    expect(managed.recentOutput()).to.have.members([`SLEEP ${sleepPid}`, 'crashing', 'fatal error'])
    expect(managed.recentOutput(1)).to.have.length(1)
    await waitUntilNoLiveMembers(managed.pid)
    await waitUntilGone(sleepPid)
    await waitUntilGone(-managed.pid)
  })

  it('splits stdout and stderr into whole lines, never interleaved mid-line, in order', async () => {
    const lineLength = 1000
    const bytes = 2 * 1024 * 1024
    const managed = supervisor.start(
      spec('tcp-1', fixture('flood.mjs', `--bytes ${bytes} --line-length ${lineLength} --stderr`)),
    )
    await managed.exited
    const expectedCount = Math.ceil(bytes / lineLength)
    for (const stream of ['stdout', 'stderr'] as const) {
      const tag = stream === 'stdout' ? 'out' : 'err'
      const lines = events
        .filter((e): e is OutputEvent => e.type === 'output' && e.stream === stream)
        .map((e) => e.line)
      expect(lines).to.have.length(expectedCount)
      for (const [n, line] of lines.entries()) {
        if (line.length !== lineLength - 1 || !line.startsWith(`${tag}:${n}:x`) || !/^[a-z]+:\d+:x+$/.test(line)) {
          expect.fail(`${stream} line ${n} is damaged: ${line.slice(0, 80)}`)
        }
      }
    }
  })

  it('keeps memory bounded when a process floods without newlines, keeping every byte', async function () {
    this.timeout(60_000)
    // Retained memory, in a child run with --expose-gc: the heap after a full collection, sampled while 48 MiB
    // flood in without a newline. Peak heapUsed in this process counted garbage too (Node 26 collects later),
    // and the whole suite's heap moves under it. Unbounded buffering would retain the 48 MiB.
    const bytes = 48 * 1024 * 1024
    const probe = fileURLToPath(new URL('flood-memory-probe.ts', import.meta.url))
    const {stdout} = await execFileP(process.execPath, ['--expose-gc', '--import', 'tsx', probe, String(bytes)], {
      env: {PATH: process.env.PATH ?? '/usr/bin:/bin'},
      timeout: 55_000,
    })
    const result = JSON.parse(stdout)
    expect(result.info).to.deep.equal({code: 0, signal: null, expected: false})
    expect(result.total).to.equal(bytes)
    expect(result.longest).to.equal(64 * 1024)
    expect(result.lines).to.equal(bytes / (64 * 1024))
    // the kept lines (50 of at most 64 Ki characters) and the stream buffers are a few MiB
    expect(result.peak - result.baseline, `retained ${result.peak - result.baseline} bytes`).to.be.below(
      16 * 1024 * 1024,
    )
    expect(result.recent).to.be.at.most(50)
  })

  it('replaces invalid UTF-8 instead of throwing', async () => {
    const managed = supervisor.start(
      spec('tcp-1', fixture('flood.mjs', '--bytes 100000 --line-length 100 --invalid-utf8 --stderr')),
    )
    const info = await managed.exited
    expect(info.code).to.equal(0)
    const lines = linesOf('tcp-1')
    expect(lines).to.have.length(2000)
    expect(lines.every((line) => line.includes('\uFFFD') && line.length < 100)).to.equal(true)
  })

  it('flushes a last line without a newline when the process exits', async () => {
    const managed = supervisor.start(spec('web-1', "printf 'one\\r\\ntwo'; printf 'err' >&2"))
    await managed.exited
    expect(linesOf('web-1')).to.have.members(['one', 'two', 'err'])
    expect(events.at(-1)?.type).to.equal('exited')
  })

  it('reports a spawn error (missing cwd) then an exit, and resolves exited', async () => {
    const managed = supervisor.start({...spec('tcp-1', 'true'), cwd: '/definitely/not/here'})
    expect(managed.pid).to.equal(0)
    expect(managed.running).to.equal(false)
    const info = await managed.exited
    expect(info).to.deep.equal({code: null, signal: null, expected: false})
    expect(events.map((e) => e.type)).to.deep.equal(['spawn-error', 'exited'])
    expect(events[0]).to.have.property('error').that.includes('/definitely/not/here')
    expect(await managed.stop(100)).to.deep.equal(info)
  })

  it('signal() reaches the whole group', async () => {
    const managed = await startListening('tcp-1', `exec ${fixture('echo-server.mjs')}`)
    managed.signal('SIGUSR2')
    expect(await managed.exited).to.deep.equal({code: null, signal: 'SIGUSR2', expected: false})
  })

  it('stopAll() stops everything in parallel; killAll() cuts the grace period short', async () => {
    const polite = await startListening('tcp-1', `exec ${fixture('echo-server.mjs')}`)
    const stubborn = await Promise.all(
      [1, 2].map((n) => startListening(`tcp-${n + 1}`, `exec ${fixture('ignore-sigterm.mjs')}`)),
    )
    const started = Date.now()
    const stopping = supervisor.stopAll(60_000)
    expect((await polite.exited).expected).to.equal(true)
    supervisor.killAll()
    await stopping
    expect(Date.now() - started).to.be.below(5000)
    for (const managed of stubborn)
      expect(await managed.exited).to.deep.equal({code: null, signal: 'SIGKILL', expected: true})
    expect(supervisor.processes()).to.deep.equal([])
  })

  describe('descendants that leave the process group, the watchdog', () => {
    /** The pid a command printed as `<label> <pid>`. */
    async function printedPid(id: string, label: string): Promise<number> {
      const pid = Number(
        (await waitForEvent(supervisor, outputMatching(id, new RegExp(`^${label} \\d+$`)))).line.split(' ')[1],
      )
      leftovers.push(pid)
      return pid
    }

    it("gives every instance its own marker, under this supervisor's", async () => {
      const first = supervisor.start(spec('tcp-1', fixture('env-dump.mjs', '--exit')))
      const second = supervisor.start(
        spec('tcp-2', fixture('env-dump.mjs', '--exit'), {[MARKER_VARIABLE]: 'from the caller'}),
      )
      await Promise.all([first.exited, second.exited])
      const envOf = (id: string) =>
        JSON.parse(
          linesOf(id)
            .find((line) => line.startsWith('ENV '))!
            .slice(4),
        )
      expect(supervisor.marker).to.match(new RegExp(`^${process.pid}:[0-9a-f]{12}$`))
      expect(envOf('tcp-1')[MARKER_VARIABLE]).to.equal(`${supervisor.marker}:1`)
      expect(envOf('tcp-2')[MARKER_VARIABLE]).to.equal(`${supervisor.marker}:2`)
    })

    it('stop() gives a daemon (setsid) the SIGTERM and the grace of its instance, then SIGKILL', async () => {
      // the daemon ignores SIGTERM and holds the instance's output pipes: only a signal of its own ends it
      const daemon = printedPid('tcp-1', 'DAEMON')
      const managed = await startListening(
        'tcp-1',
        `setsid -f sh -c 'trap "" TERM; echo DAEMON $$; exec sleep 1000'; exec ${fixture('echo-server.mjs')}`,
      )
      const daemonPid = await daemon
      expect(liveGroupMembers(managed.pid)).to.not.include(daemonPid)
      const started = Date.now()
      expect(await managed.stop(500)).to.deep.equal({code: 0, signal: null, expected: true})
      expect(Date.now() - started)
        .to.be.at.least(490)
        .and.below(1900) // its grace, not the 2 s wait for the pipes
      await waitUntilDead([daemonPid], 2000)
    })

    it('a daemon (double fork and setsid) ends with its instance when that one crashes', async () => {
      const daemon = printedPid('tcp-1', 'DAEMON')
      const managed = supervisor.start(
        spec('tcp-1', `(setsid sleep 1000 >/dev/null 2>&1 & echo "DAEMON $!"); exec ${fixture('crash.mjs')}`),
      )
      const daemonPid = await daemon
      expect((await managed.exited).expected).to.equal(false)
      await waitUntilDead([daemonPid], 2000)
    })

    it('killAll() SIGKILLs daemons too', async () => {
      const daemon = printedPid('tcp-1', 'DAEMON')
      await startListening(
        'tcp-1',
        `setsid -f sh -c 'trap "" TERM; echo DAEMON $$; exec sleep 1000 >/dev/null'; exec ${fixture('ignore-sigterm.mjs')}`,
      )
      const daemonPid = await daemon
      expect(isLive(daemonPid)).to.equal(true)
      supervisor.killAll()
      await waitUntilDead([daemonPid], 2000)
    })

    it('does not make the Procfile command wait for it, nor hand it fd 3', async () => {
      const managed = supervisor.start(
        spec(
          'tcp-1',
          'sleep 0.1 & wait; echo waited; if { true <&3; } 2>/dev/null; then echo fd 3 open; else echo fd 3 closed; fi',
        ),
      )
      expect(await managed.exited).to.deep.equal({code: 0, signal: null, expected: false})
      expect(linesOf('tcp-1')).to.deep.equal(['waited', 'fd 3 closed'])
    })

    it('ends the instances of a gateway that dies without stopping them (SIGKILL), within about a second', async () => {
      const script = `import {Supervisor} from ${JSON.stringify(new URL('../../../src/lib/supervisor/supervisor.ts', import.meta.url).pathname)}
const supervisor = new Supervisor()
const managed = supervisor.start({id: 'tcp-1', type: 'tcp', command: 'trap "" TERM; sleep 1000 & exec sleep 1001', cwd: '/', env: {PATH: process.env.PATH}})
console.log(managed.pid)`
      const gateway = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
        stdio: ['ignore', 'pipe', 'inherit'],
      })
      const pgid = Number(
        await new Promise<string>((resolve) => gateway.stdout.setEncoding('utf8').once('data', resolve)),
      )
      leftovers.push(-pgid)
      await waitForGroupSize(pgid, 3) // sleep 1001 (leader), sleep 1000, the watchdog
      gateway.kill('SIGKILL')
      const killed = Date.now()
      await waitUntilNoLiveMembers(pgid, 3000) // SIGTERM is ignored here: this is the SIGKILL a second later
      expect(Date.now() - killed).to.be.at.least(900)
    })
  })

  it('killProcessGroup refuses dangerous pids and reports a missing group', () => {
    for (const pid of [0, 1, -1, 1.5, Number.NaN]) expect(killProcessGroup(pid, 'SIGKILL')).to.equal(false)
    expect(killProcessGroup(2 ** 22 + 12_345, 'SIGTERM')).to.equal(false)
  })
})
