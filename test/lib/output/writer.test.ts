import {expect} from 'chai'
import {Writable} from 'node:stream'

import {OutputWriter} from '../../../src/lib/output/writer.js'

/** A reader that takes nothing until `open()`, then everything (a paused `| less`). */
class StalledReader extends Writable {
  received = ''
  private held: Array<() => void> = []
  private flowing = false

  constructor() {
    super({highWaterMark: 1024, decodeStrings: false})
  }

  open(): void {
    this.flowing = true
    for (const release of this.held.splice(0)) release()
  }

  override _write(chunk: string, _encoding: string, done: () => void): void {
    const take = () => {
      this.received += chunk
      done()
    }

    if (this.flowing) take()
    else this.held.push(take)
  }
}

describe('OutputWriter', () => {
  it('queues up to its limit for a stalled reader, drops beyond, and writes one notice where the lines went missing once it reads again', async () => {
    const reader = new StalledReader()
    const writer = new OutputWriter(reader, {limit: 10_000, droppedNotice: (n) => `[${n} dropped]\n`})
    let written = 0
    for (let i = 0; i < 1000; i++) if (writer.write(`line ${String(i).padStart(4, '0')} ${'x'.repeat(89)}\n`)) written++
    // the bound: what the stream took before asking to wait, plus 10 000 bytes of 100-byte lines
    expect(written).to.be.within(100, 130)
    expect(writer.write('kept\n', true)).to.equal(true)
    expect(writer.droppedLines).to.equal(1000 - written)
    reader.open()
    expect(await writer.finish(1000)).to.equal(true)
    const lines = reader.received.trimEnd().split('\n')
    expect(lines.slice(-2)).to.deep.equal(['kept', `[${1000 - written} dropped]`])
    expect(lines).to.have.length(written + 2)
    writer.write('after\n')
    expect(await writer.finish(1000)).to.equal(true)
    expect(reader.received.endsWith(`dropped]\nafter\n`)).to.equal(true)
  })

  it('finish gives up after its timeout when the reader never comes back; a function line is never formatted when dropped', async () => {
    const reader = new StalledReader()
    const writer = new OutputWriter(reader, {limit: 100, droppedNotice: () => 'notice\n'})
    let formatted = 0
    let accepted = 0
    for (let i = 0; i < 100; i++) if (writer.write(() => `${'y'.repeat(60)} ${formatted++}\n`)) accepted++
    // only the line that hit the limit was formatted for nothing; the rest were dropped unformatted
    expect(accepted).to.be.below(30)
    expect(formatted).to.equal(accepted + 1)
    const started = Date.now()
    expect(await writer.finish(200)).to.equal(false)
    expect(Date.now() - started).to.be.within(150, 2000)
  })

  it('reports the first write error once as failed, never throws, and ignores later writes', async () => {
    const broken = new Writable({
      write(_chunk, _encoding, done) {
        done(Object.assign(new Error('write EIO'), {code: 'EIO'}))
      },
    })
    const writer = new OutputWriter(broken, {droppedNotice: () => ''})
    const failures: string[] = []
    writer.on('failed', (error) => failures.push(String(error.code)))
    writer.write('a\n')
    expect(await writer.finish(1000)).to.equal(false)
    expect(writer.write('b\n')).to.equal(false)
    expect(failures).to.deep.equal(['EIO'])
  })
})
