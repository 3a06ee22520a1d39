import {expect} from 'chai'
import {spawn} from 'node:child_process'
import {existsSync, mkdtempSync, readdirSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'

import {ownStopSignals} from '../../../src/lib/proxy/signals.js'
import {SERVERS} from '../../support/proxy.js'

const SIGNALS = fileURLToPath(new URL('../../../src/lib/proxy/signals.ts', import.meta.url))

/** Resolves with the first signal `ownStopSignals` routes to us after `send()`. */
function nextOwnedSignal(send: () => void): {received: Promise<NodeJS.Signals>; release: () => void} {
  let release!: () => void
  const received = new Promise<NodeJS.Signals>((resolve) => {
    release = ownStopSignals(
      (signal) => resolve(signal),
      () => [],
    )
  })
  send()
  return {received, release}
}

describe('tcp:proxy owns SIGINT and SIGTERM while it runs (signals.ts)', () => {
  const calls: string[] = []
  // What a host CLI installs before running a command: the Heroku CLI's telemetry exits 1 right there.
  const hostListener = (signal: NodeJS.Signals) => calls.push(`host ${signal}`)
  const hostOnce = (signal: NodeJS.Signals) => calls.push(`host once ${signal}`)

  beforeEach(() => {
    calls.length = 0
    for (const signal of ['SIGINT', 'SIGTERM'] as const) {
      process.on(signal, hostListener)
      process.once(signal, hostOnce)
    }
  })

  afterEach(() => {
    for (const signal of ['SIGINT', 'SIGTERM'] as const) {
      process.removeListener(signal, hostListener)
      process.removeListener(signal, hostOnce)
    }
  })

  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    it(`routes ${signal} to tcp:proxy alone: the listeners already there are not called`, async () => {
      const {received, release} = nextOwnedSignal(() => process.kill(process.pid, signal))
      try {
        expect(await received).to.equal(signal)
        expect(calls).to.deep.equal([])
      } finally {
        release()
      }
    })
  }

  it('then gives them back as they were: same listeners, same order, `once` still once', async () => {
    const before = {SIGINT: process.rawListeners('SIGINT'), SIGTERM: process.rawListeners('SIGTERM')}
    const {received, release} = nextOwnedSignal(() => process.kill(process.pid, 'SIGTERM'))
    await received
    const added = () => calls.push('added while it runs')
    process.on('SIGTERM', added)
    release()
    release() // twice is harmless
    try {
      expect(process.rawListeners('SIGINT')).to.deep.equal(before.SIGINT)
      expect(process.rawListeners('SIGTERM')).to.deep.equal([...before.SIGTERM, added])
      process.emit('SIGTERM', 'SIGTERM')
      process.emit('SIGTERM', 'SIGTERM')
      expect(calls).to.deep.equal([
        'host SIGTERM',
        'host once SIGTERM',
        'added while it runs',
        'host SIGTERM',
        'added while it runs',
      ])
    } finally {
      process.removeListener('SIGTERM', added)
    }
  })

  it('leaves no listener behind once released, however many times it is taken and given back', () => {
    const before = {
      exit: process.listenerCount('exit'),
      SIGINT: process.listenerCount('SIGINT'),
      SIGTERM: process.listenerCount('SIGTERM'),
    }
    for (let i = 0; i < 20; i++)
      ownStopSignals(
        () => {},
        () => [],
      )()
    expect({
      exit: process.listenerCount('exit'),
      SIGINT: process.listenerCount('SIGINT'),
      SIGTERM: process.listenerCount('SIGTERM'),
    }).to.deep.equal(before)
  })

  it('SIGTERMs every live instance group on exit, whatever ends the process (here a process.exit(1) of the host)', async function () {
    this.timeout(30_000)
    const dir = mkdtempSync(join(tmpdir(), 'scalingo-tcp-signals-'))
    // A process that owns one instance (a real group leader of its own) and is then ended by someone else's process.exit.
    const script = `
      import {spawn} from 'node:child_process'
      import {ownStopSignals} from ${JSON.stringify(SIGNALS)}
      const child = spawn(process.execPath, [${JSON.stringify(join(SERVERS, 'sigterm-marker.mjs'))}, ${JSON.stringify(dir)}], {detached: true, stdio: ['ignore', 'pipe', 'inherit'], env: {...process.env, PORT: '0', HOST: '127.0.0.1'}})
      const instance = {signal: (signal) => process.kill(-child.pid, signal)}
      ownStopSignals(() => {}, () => [instance])
      child.stdout.once('data', () => { console.log('pid ' + child.pid); process.exit(1) })
    `
    const owner = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let stdout = ''
    let stderr = ''
    owner.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d))
    owner.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d))
    const code = await new Promise((resolve) => owner.on('close', resolve))
    try {
      expect(code, stderr).to.equal(1)
      const pid = Number(/pid (\d+)/.exec(stdout)?.[1])
      expect(pid, stdout).to.be.greaterThan(0)
      // The marker is the instance's own proof of a SIGTERM: wait for it to appear (it exits right after).
      const marker = join(dir, `sigterm-${pid}`)
      const deadline = Date.now() + 10_000
      while (!existsSync(marker) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20))
      expect(readdirSync(dir)).to.deep.equal([`sigterm-${pid}`])
    } finally {
      const pid = Number(/pid (\d+)/.exec(stdout)?.[1])
      if (pid) {
        try {
          process.kill(-pid, 'SIGKILL')
        } catch {
          // already gone
        }
      }

      rmSync(dir, {recursive: true, force: true})
    }
  })
})
