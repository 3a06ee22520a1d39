import {expect} from 'chai'
import {EventEmitter} from 'node:events'

import {renderProxyStatus} from '../../../src/lib/output/proxy-status.js'
import {listenForKeys} from '../../../src/lib/proxy/keys.js'
import {isIgnoredPath} from '../../../src/lib/proxy/watch.js'

/** A stand-in for process.stdin on a terminal: records raw mode and flowing state. */
class FakeTerminal extends EventEmitter {
  isTTY = true
  rawModes: boolean[] = []
  flowing = false
  setRawMode(mode: boolean) {
    this.rawModes.push(mode)
  }

  resume() {
    this.flowing = true
  }

  pause() {
    this.flowing = false
  }
}

describe('interactive keys', () => {
  it('maps r, s, q and Ctrl-C in raw mode, and restores the terminal', () => {
    const terminal = new FakeTerminal()
    const calls: string[] = []
    const restore = listenForKeys(terminal, {
      restart: () => calls.push('restart'),
      status: () => calls.push('status'),
      quit: () => calls.push('quit'),
      interrupt: () => calls.push('interrupt'),
      lost: () => calls.push('lost'),
    })
    expect(terminal.rawModes).to.deep.equal([true])
    expect(terminal.flowing).to.equal(true)
    terminal.emit('data', Buffer.from('rxS'))
    terminal.emit('data', 'q\u0003')
    expect(calls).to.deep.equal(['restart', 'status', 'quit', 'interrupt'])
    restore!()
    restore!()
    expect(terminal.rawModes).to.deep.equal([true, false])
    expect(terminal.flowing).to.equal(false)
    terminal.emit('data', 'r')
    expect(calls).to.have.length(4)
  })

  it('a terminal that ends its input or fails a read (a hangup) is reported as lost, never as an uncaught error', () => {
    for (const how of ['end', 'error'] as const) {
      const terminal = new FakeTerminal()
      const calls: string[] = []
      const restore = listenForKeys(terminal, {
        restart() {},
        status() {},
        quit() {},
        interrupt() {},
        lost: () => calls.push('lost'),
      })
      if (how === 'end') terminal.emit('end')
      else terminal.emit('error', Object.assign(new Error('read EIO'), {code: 'EIO'}))
      expect(calls, how).to.deep.equal(['lost'])
      restore!()
      // putting a hung-up terminal out of raw mode fails with an 'error' as well: still listened to
      expect(() => terminal.emit('error', new Error('setRawMode EIO'))).not.to.throw()
      expect(calls, how).to.deep.equal(['lost'])
    }
  })

  it('a terminal already hung up when raw mode is switched on (its error is emitted then) is reported as lost', () => {
    const terminal = new FakeTerminal()
    terminal.setRawMode = () => {
      terminal.emit('error', Object.assign(new Error('setRawMode EIO'), {code: 'EIO'}))
    }

    const calls: string[] = []
    listenForKeys(terminal, {restart() {}, status() {}, quit() {}, interrupt() {}, lost: () => calls.push('lost')})
    expect(calls).to.deep.equal(['lost'])
  })

  it('leaves a non-TTY stdin alone', () => {
    const piped = new FakeTerminal()
    piped.isTTY = false
    expect(listenForKeys(piped, {restart() {}, status() {}, quit() {}, interrupt() {}, lost() {}})).to.equal(undefined)
    expect(piped.rawModes).to.deep.equal([])
    expect(piped.flowing).to.equal(false)
  })
})

describe('--watch ignore rules', () => {
  it('ignores dependencies, VCS, build output and dotfiles, not the app', () => {
    for (const path of [
      'node_modules/x',
      'a/node_modules/b.js',
      '.git/HEAD',
      'dist/index.js',
      'coverage/lcov.info',
      '.scalingo-tcp.json',
      'src/.hidden',
      'notes.txt~',
    ]) {
      expect(isIgnoredPath(path), path).to.equal(true)
    }

    for (const path of ['server.js', 'Procfile', 'src/lib/util.ts', 'distance.js'])
      expect(isIgnoredPath(path), path).to.equal(false)
  })
})

describe('status table', () => {
  it('shows one row per instance with its generation, state, connections and bytes', () => {
    const text = renderProxyStatus({
      app: 'my-app',
      tcpUrl: 'tcp://127.0.0.1:20003',
      restarting: true,
      connections: {active: 3, total: 10},
      instances: [
        {
          name: 'tcp-1',
          type: 'tcp',
          generation: 1,
          state: 'draining',
          pid: 42,
          port: 40001,
          uptimeMs: 125_000,
          active: 2,
          total: 8,
          bytesIn: 2048,
          bytesOut: 10,
          restarts: 0,
        },
        {
          name: 'tcp-1',
          type: 'tcp',
          generation: 2,
          state: 'ready',
          pid: 43,
          port: 40002,
          uptimeMs: 900,
          active: 1,
          total: 2,
          bytesIn: 0,
          bytesOut: 0,
          restarts: 1,
        },
      ],
    })
    const lines = text.trimEnd().split('\n')
    expect(lines[0]).to.equal('=== my-app on tcp://127.0.0.1:20003 (restarting): 3 active connection(s), 10 in total')
    expect(lines[1].split(/\s{2,}/)).to.deep.equal([
      'INSTANCE',
      'GEN',
      'STATE',
      'PID',
      'PORT',
      'UPTIME',
      'CONN',
      'IN',
      'OUT',
      'RESTARTS',
    ])
    expect(lines[2].split(/\s{2,}/)).to.deep.equal([
      'tcp-1',
      '1',
      'draining',
      '42',
      '40001',
      '2m05s',
      '2/8',
      '2.0 KiB',
      '10 B',
      '0',
    ])
    expect(lines[3].split(/\s{2,}/)).to.deep.equal([
      'tcp-1',
      '2',
      'ready',
      '43',
      '40002',
      '0s',
      '1/2',
      '0 B',
      '0 B',
      '1',
    ])
  })
})
