import {expect} from 'chai'
import {closeSync, existsSync, openSync, readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'

import {pollUntil, waitUntilNoLiveMembers} from '../../support/processes.js'
import {ProxyProcess, SERVERS, makeApp} from '../../support/proxy.js'
import {exchange} from '../../support/sockets.js'

const echo = `node ${join(SERVERS, 'echo-server.mjs')}`
const MiB = 1024 * 1024

/** Bytes the flood instance reports having written (its --progress file); 0 before the first report. */
function flooded(file: string): number {
  try {
    return Number(readFileSync(file, 'utf8')) || 0
  } catch {
    return 0
  }
}

/**
 * Waits until the flood has written `bytes` more than `from`, calling `sample` at each look. There is
 * no event to wait on while nobody reads tcp:proxy's stdout: the flood's progress file is the event,
 * looked at every 20 ms, the deadline only a safety net.
 */
function waitForFlood(file: string, bytes: number, sample: () => void, timeoutMs = 60_000): Promise<void> {
  return pollUntil(
    () => {
      const done = flooded(file) >= bytes
      sample()
      return done
    },
    () => `the flood to write ${bytes} bytes (it wrote ${flooded(file)})`,
    timeoutMs,
    20,
  )
}

describe('tcp:proxy output: a stalled reader, a failing stdout', function () {
  this.timeout(90_000)
  let proxy: ProxyProcess | undefined

  afterEach(async () => {
    proxy?.child.stdout?.resume()
    if (proxy) await proxy.cleanup()
    proxy = undefined
  })

  const floodApp = () => {
    const dir = makeApp('')
    const progress = join(dir, 'flooded')
    // an instance printing as fast as it can, 1000-byte lines, far more than any buffer
    const flood = `node ${join(SERVERS, 'flood.mjs')} --bytes 100000000000 --line-length 1000 --progress ${progress}`
    writeFileSync(join(dir, 'Procfile'), `tcp: ${echo}\nworker: ${flood}\n`)
    return {dir, progress}
  }

  it('stdout not read while an instance floods: memory stays bounded, the gateway serves, the dropped lines are counted once it reads again', async () => {
    const {dir, progress} = floodApp()
    proxy = ProxyProcess.start(['--grace', '3s'], {cwd: dir, keep: (e) => e.event !== 'output'})
    const port = await proxy.port()
    await proxy.waitForEvent('instance-ready', {instance: 'tcp-1'})
    proxy.child.stdout!.pause()
    const start = flooded(progress)
    const before = proxy.rss()
    let peak = before
    const sample = () => {
      peak = Math.max(peak, proxy!.rss())
      // fail as soon as it grows: an unbounded buffer would take the machine's memory
      expect(peak - before, `RSS grew from ${before} to ${peak} bytes`).to.be.below(100 * MiB)
    }

    await waitForFlood(progress, start + 200 * MiB, sample)
    // the data path does not wait for the terminal
    expect(await exchange(port, 'still there?\n')).to.equal('still there?\n')
    await waitForFlood(progress, start + 400 * MiB, sample)

    proxy.child.stdout!.resume()
    // 400 MiB of 1000-byte lines went by: all but the bounded buffer's worth were dropped, as the notices count
    // them. Summed: the flood can outrun even a stdout that is read, so a small notice may precede the pause.
    const dropped = () =>
      proxy!.events.filter((e) => e.event === 'output-dropped').reduce((lines, e) => lines + (e.lines as number), 0)
    await proxy.waitFor((e) => e.event === 'output-dropped' && dropped() > 300_000)
    // and the instance's output flows again after the notice (only future events match: outputs are not kept)
    await proxy.waitFor((e) => e.event === 'output' && e.instance === 'worker-1')
  })

  it('SIGTERM while stdout is stalled: exit 0 within --grace and a few seconds, no stack trace', async () => {
    const {dir, progress} = floodApp()
    const marker = join(dir, 'sigterm-received')
    proxy = ProxyProcess.start(['--grace', '3s'], {
      cwd: dir,
      keep: (e) => e.event !== 'output',
      env: {SIGTERM_FILE: marker},
    })
    await proxy.waitForEvent('instance-ready', {instance: 'tcp-1'})
    const started = (await proxy.waitForEvent('instance-starting', {instance: 'tcp-1'})).pid as number
    proxy.child.stdout!.pause()
    await waitForFlood(progress, flooded(progress) + 64 * MiB, () => {})
    const sentAt = Date.now()
    const {code, signal} = await proxy.stop('SIGTERM')
    const tookMs = Date.now() - sentAt
    expect({code, signal}).to.deep.equal({code: 0, signal: null})
    expect(tookMs, `exited after ${tookMs} ms`).to.be.below(3000 + 5000)
    expect(proxy.stderr).not.to.match(/timed out|\n\s+at /)
    expect(readFileSync(marker, 'utf8')).to.match(/^SIGTERM/)
    await waitUntilNoLiveMembers(started)
  })

  it('stdout on a full disk (ENOSPC): everything stopped, exit 1 saying why, no stack trace', async () => {
    const dir = makeApp(`tcp: echo $$ > tcp.pid; exec ${echo}\n`)
    const full = openSync('/dev/full', 'w')
    try {
      proxy = ProxyProcess.start(['--grace', '3s'], {cwd: dir, stdout: full})
    } finally {
      closeSync(full)
    }

    const {code, signal} = await proxy.exited
    expect({code, signal}).to.deep.equal({code: 1, signal: null})
    expect(proxy.stderr).to.match(/Cannot write to stdout \(ENOSPC/)
    expect(proxy.stderr).not.to.match(/\n\s+at /)
    // if the instance got to start, its whole group is gone
    if (existsSync(join(dir, 'tcp.pid')))
      await waitUntilNoLiveMembers(Number(readFileSync(join(dir, 'tcp.pid'), 'utf8')))
  })
})
