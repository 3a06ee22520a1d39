import {expect} from 'chai'
import {mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {runCli} from './support/cli.js'
import {stripAnsi, TtyCli} from './support/tty.js'

describe('unknown commands (@oclif/plugin-not-found)', () => {
  let home: string
  const ttys: TtyCli[] = []

  before(() => {
    home = mkdtempSync(join(tmpdir(), 'scalingo-tcp-notfound-'))
  })

  afterEach(() => {
    for (const tty of ttys.splice(0)) tty.kill()
  })

  after(() => rmSync(home, {recursive: true, force: true}))

  it('without a terminal: says the command does not exist, points at help, exits 127 without prompting', async () => {
    const result = await runCli(['evn'], {env: {HOME: home}})
    expect(result.code).to.equal(127)
    expect(result.stdout).to.equal('')
    const stderr = stripAnsi(result.stderr)
    expect(stderr).to.include('evn is not a scalingo-tcp command.')
    expect(stderr).to.include('Run scalingo-tcp help for a list of available commands.')
    expect(stderr).not.to.include('Did you mean')
  })

  it('on a terminal: asks "Did you mean env?"; answering no exits 127', async () => {
    const tty = new TtyCli(['evn'], {env: {HOME: home}, cwd: home})
    ttys.push(tty)
    await tty.waitFor(/Did you mean env\?/)
    tty.type('n\r')
    expect(await tty.exited).to.equal(127)
    expect(stripAnsi(tty.output)).to.include('Run scalingo-tcp help for a list of available commands.')
  })

  it('on a terminal: answering yes runs `env` (which then asks for an app, exit 2)', async () => {
    const tty = new TtyCli(['evn'], {env: {HOME: home}, cwd: home})
    ttys.push(tty)
    await tty.waitFor(/Did you mean env\?/)
    tty.type('y\r')
    expect(await tty.exited).to.equal(2)
    expect(stripAnsi(tty.output)).to.include('No app specified and none could be detected.')
  })

  it('suggests within a topic too: tcp:prxy -> tcp:proxy', async () => {
    const tty = new TtyCli(['tcp:prxy'], {env: {HOME: home}, cwd: home})
    ttys.push(tty)
    await tty.waitFor(/Did you mean tcp:proxy\?/)
    tty.type('n\r')
    expect(await tty.exited).to.equal(127)
  })
})
