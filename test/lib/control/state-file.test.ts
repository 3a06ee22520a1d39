import {expect} from 'chai'
import {spawn} from 'node:child_process'
import {existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'

import {type GatewayState, STATE_FILE_NAME} from '../../../src/lib/contract.js'
import {
  DirectoryClaim,
  findStateFile,
  gatewayRunning,
  readClaim,
  readState,
  writeStateFile,
} from '../../../src/lib/control/state-file.js'
import {startTimeOf} from '../../../src/lib/supervisor/proc.js'
import {MARKER_VARIABLE} from '../../../src/lib/supervisor/strays.js'
import {waitUntilDead} from '../../support/processes.js'
import {emptyAppRoot} from '../../support/proxy.js'

const STATE_FILE_MODULE = fileURLToPath(new URL('../../../src/lib/control/state-file.ts', import.meta.url))

const state = (overrides: Partial<GatewayState> = {}): GatewayState => ({
  pid: process.pid,
  url: 'http://127.0.0.1:1234',
  token: 'the-token',
  tcpUrl: 'tcp://127.0.0.1:20003',
  app: 'my-app',
  startedAt: new Date().toISOString(),
  version: '0.1.0',
  ...overrides,
})

/** A pid that is certainly not running: a child that has already exited. */
function deadPid(): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['-e', ''], {stdio: 'ignore'})
    child.on('error', reject)
    child.on('exit', () => resolve(child.pid!))
  })
}

describe('state file', () => {
  let dir: string
  const handles: Array<{remove(): void}> = []

  beforeEach(() => {
    dir = emptyAppRoot('scalingo-tcp-state-')
  })

  afterEach(() => {
    for (const handle of handles.splice(0)) handle.remove()
    rmSync(dir, {recursive: true, force: true})
  })

  it('is written with mode 0600, complete, and leaves no temp file behind', () => {
    const handle = writeStateFile(dir, state())
    handles.push(handle)
    expect(handle.path).to.equal(join(dir, STATE_FILE_NAME))
    expect(statSync(handle.path).mode & 0o777).to.equal(0o600)
    expect(JSON.parse(readFileSync(handle.path, 'utf8'))).to.deep.equal(
      state({startedAt: readState(handle.path)!.startedAt}),
    )
    expect(readdirSync(dir).filter((f) => f !== '.git')).to.deep.equal([STATE_FILE_NAME])
  })

  it('replaces an existing file by rename (a reader holding the old one never sees a mix)', () => {
    handles.push(writeStateFile(dir, state({token: 'first'})))
    const before = statSync(join(dir, STATE_FILE_NAME)).ino
    handles.push(writeStateFile(dir, state({token: 'second'})))
    expect(statSync(join(dir, STATE_FILE_NAME)).ino).to.not.equal(before)
    expect(readState(join(dir, STATE_FILE_NAME))!.token).to.equal('second')
    expect(readdirSync(dir).filter((f) => f !== '.git')).to.deep.equal([STATE_FILE_NAME])
  })

  it('remove() deletes it, but not a file another gateway wrote since', () => {
    const ours = writeStateFile(dir, state({token: 'ours'}))
    ours.remove()
    expect(existsSync(ours.path)).to.equal(false)

    const old = writeStateFile(dir, state({token: 'old'}))
    handles.push(writeStateFile(dir, state({token: 'newer'})))
    old.remove()
    expect(readState(old.path)!.token).to.equal('newer')
  })

  it('is removed when the process exits, even without a clean stop', async () => {
    const script = `import {writeStateFile} from ${JSON.stringify(STATE_FILE_MODULE)}
writeStateFile(process.argv[1], {pid: process.pid, url: 'u', token: 't', tcpUrl: 'tcp://x:1', app: 'a', startedAt: '', version: ''})
console.log('written')
setTimeout(() => { throw new Error('crash') }, 0)`
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script, dir], {
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let stdout = ''
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d))
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve))
    expect(stdout).to.equal('written\n')
    expect(code).to.equal(1)
    expect(existsSync(join(dir, STATE_FILE_NAME))).to.equal(false)
  })

  describe("as the gateway's claim on the directory", () => {
    const claimState = () => ({
      pid: process.pid,
      app: 'my-app',
      startedAt: new Date().toISOString(),
      marker: `${process.pid}:abcdef`,
      startTime: startTimeOf(process.pid),
      groups: [],
    })

    it('exists from start-up on, but the --local commands find it only once published; it records groups', () => {
      const claim = new DirectoryClaim(dir, claimState(), undefined)
      handles.push(claim)
      expect(statSync(claim.path).mode & 0o777).to.equal(0o600)
      expect(readClaim(claim.path)).to.include({pid: process.pid, marker: `${process.pid}:abcdef`})
      expect(findStateFile(dir)).to.equal(undefined) // still starting: nothing to talk to
      claim.recordGroups([{pgid: 1234, startTime: '42'}])
      expect(readClaim(claim.path)!.groups).to.deep.equal([{pgid: 1234, startTime: '42'}])
      claim.publish({url: 'http://127.0.0.1:1234', token: 'tok', tcpUrl: 'tcp://127.0.0.1:20003', version: '0.1.0'})
      expect(findStateFile(dir)?.state).to.include({token: 'tok', tcpUrl: 'tcp://127.0.0.1:20003'})
      expect(readClaim(claim.path)!.groups).to.deep.equal([{pgid: 1234, startTime: '42'}])
      expect(readdirSync(dir).filter((f) => f !== '.git')).to.deep.equal([STATE_FILE_NAME])
      claim.remove()
      expect(existsSync(claim.path)).to.equal(false)
    })

    it('is created only if no file is there (EEXIST), and replaces only the stale file it was given', () => {
      handles.push(writeStateFile(dir, state({token: 'other'})))
      expect(() => new DirectoryClaim(dir, claimState(), undefined))
        .to.throw()
        .with.property('code', 'EEXIST')
      handles.push(new DirectoryClaim(dir, claimState(), readClaim(join(dir, STATE_FILE_NAME))!))
      expect(readClaim(join(dir, STATE_FILE_NAME))).to.include({marker: `${process.pid}:abcdef`})
    })

    it('tells a running gateway from a later process that reuses its pid (start time, Linux)', async () => {
      const base = {pid: process.pid, app: 'a', startedAt: ''}
      expect(gatewayRunning({...base, startTime: startTimeOf(process.pid)})).to.equal(true)
      expect(gatewayRunning({...base, startTime: '1'})).to.equal(false)
      expect(gatewayRunning({...base, pid: await deadPid()})).to.equal(false)
      // no start time (an older version's file): a complete state file with a live pid, not a bare {pid}
      expect(gatewayRunning(state())).to.equal(true)
      expect(gatewayRunning(base)).to.equal(false)
    })

    it('drops what it cannot trust in a file it did not write (marker, groups)', () => {
      writeFileSync(
        join(dir, STATE_FILE_NAME),
        JSON.stringify({
          pid: 12,
          marker: '12:abc; rm -rf /',
          groups: [{pgid: 1}, {pgid: -5}, {pgid: 77, startTime: 3}, {pgid: 78, startTime: '9'}, null],
        }),
      )
      const claim = readClaim(join(dir, STATE_FILE_NAME))!
      expect(claim).to.not.have.property('marker')
      expect(claim.groups).to.deep.equal([{pgid: 78, startTime: '9'}])
    })

    it('a stale file whose gateway left a process running is kept for the next tcp:proxy, then removed once it is gone', async () => {
      const marker = `${await deadPid()}:0123456789ab`
      const leftover = spawn('sleep', ['1000'], {
        env: {PATH: process.env.PATH, [MARKER_VARIABLE]: `${marker}:1`},
        stdio: 'ignore',
      })
      try {
        writeFileSync(join(dir, STATE_FILE_NAME), JSON.stringify(state({pid: Number(marker.split(':')[0]), marker})), {
          mode: 0o600,
        })
        expect(findStateFile(dir)).to.equal(undefined)
        expect(existsSync(join(dir, STATE_FILE_NAME))).to.equal(true)
      } finally {
        leftover.kill('SIGKILL')
      }

      await waitUntilDead([leftover.pid!])
      expect(findStateFile(dir)).to.equal(undefined)
      expect(existsSync(join(dir, STATE_FILE_NAME))).to.equal(false)
    })
  })

  describe('finding it', () => {
    it('walks up from a subdirectory to the app directory', () => {
      handles.push(writeStateFile(dir, state()))
      const sub = join(dir, 'src', 'deep')
      mkdirSync(sub, {recursive: true})
      const found = findStateFile(sub)
      expect(found?.dir).to.equal(dir)
      expect(found?.state.token).to.equal('the-token')
    })

    it('stops at the app root: a gateway running above it belongs to another app', () => {
      handles.push(writeStateFile(dir, state()))
      const otherApp = join(dir, 'other-app')
      mkdirSync(otherApp)
      writeFileSync(join(otherApp, 'Procfile'), 'tcp: node server.js\n')
      expect(findStateFile(dir)?.dir).to.equal(dir)
      expect(findStateFile(otherApp)).to.equal(undefined)
    })

    it('finds nothing where there is no file', () => {
      expect(findStateFile(dir)).to.equal(undefined)
    })

    it('ignores and removes a stale file whose pid is not running', async () => {
      writeFileSync(join(dir, STATE_FILE_NAME), JSON.stringify(state({pid: await deadPid()})), {mode: 0o600})
      expect(findStateFile(dir)).to.equal(undefined)
      expect(existsSync(join(dir, STATE_FILE_NAME))).to.equal(false)
    })

    it('ignores a file that is not a state file', () => {
      writeFileSync(join(dir, STATE_FILE_NAME), '{"pid": "nope"')
      expect(findStateFile(dir)).to.equal(undefined)
      writeFileSync(join(dir, STATE_FILE_NAME), '{"pid": 1}')
      expect(findStateFile(dir)).to.equal(undefined)
    })
  })
})
