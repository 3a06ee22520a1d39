import {expect} from 'chai'
import {EventEmitter} from 'node:events'
import {mkdirSync, mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import type {RestartReport} from '../../../src/lib/contract.js'
import {installRestartTriggers} from '../../../src/lib/proxy/triggers.js'

class FakeTerminal extends EventEmitter {
  isTTY = true
  raw = false
  setRawMode(mode: boolean) {
    this.raw = mode
  }

  resume() {}
  pause() {}
}

/** Records what asked for a restart; each request resolves at once. */
class RecordingApp extends EventEmitter {
  readonly requests: Array<{reason: string; files?: string[]}> = []
  restart(reason: string): Promise<RestartReport> {
    return this.record({reason})
  }

  restartForChanges(files: string[]): Promise<RestartReport> {
    return this.record({reason: 'watch', files})
  }

  private record(request: {reason: string; files?: string[]}): Promise<RestartReport> {
    this.requests.push(request)
    this.emit('request', request)
    return Promise.resolve({generation: 2, durationMs: 0, restarted: [], failed: []})
  }
}

describe('restart triggers', () => {
  let uninstall: (() => void) | undefined
  let dir: string | undefined

  afterEach(() => {
    uninstall?.()
    uninstall = undefined
    if (dir) rmSync(dir, {recursive: true, force: true})
    dir = undefined
  })

  it('the r key asks for a rolling restart; s, q, Ctrl-C and a lost terminal reach their handlers; uninstall gives everything back', () => {
    const app = new RecordingApp()
    const terminal = new FakeTerminal()
    const calls: string[] = []
    const hangupListeners = process.listenerCount('SIGHUP')
    uninstall = installRestartTriggers(app, {
      keys: {
        input: terminal,
        status: () => calls.push('status'),
        quit: () => calls.push('quit'),
        interrupt: () => calls.push('interrupt'),
        lost: () => calls.push('lost'),
      },
    })
    // SIGHUP is runUntilStopped's (a restart, or a stop when the terminal hung up), not a trigger's
    expect(process.listenerCount('SIGHUP')).to.equal(hangupListeners)
    terminal.emit('data', 'rsq\u0003')
    terminal.emit('end')
    expect(app.requests.map((r) => r.reason)).to.deep.equal(['key r'])
    expect(calls).to.deep.equal(['status', 'quit', 'interrupt', 'lost'])
    expect(terminal.raw).to.equal(true)

    uninstall()
    uninstall = undefined
    expect(terminal.raw).to.equal(false)
    terminal.emit('data', 'r')
    expect(app.requests).to.have.length(1)
  })

  it('--watch: one restart for a burst of changes (debounced), naming every changed file, none for node_modules', async () => {
    dir = mkdtempSync(join(tmpdir(), 'scalingo-tcp-watch-'))
    mkdirSync(join(dir, 'node_modules'))
    const app = new RecordingApp()
    uninstall = installRestartTriggers(app, {watchDir: dir})
    const first = new Promise<{reason: string; files?: string[]}>((resolve) => app.once('request', resolve))
    writeFileSync(join(dir, 'node_modules', 'dep.js'), '1')
    for (const name of ['a.js', 'b.js', 'c.js']) writeFileSync(join(dir, name), name)
    const request = await first
    expect(request).to.deep.equal({reason: 'watch', files: ['a.js', 'b.js', 'c.js']})
  })
})
