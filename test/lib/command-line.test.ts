import {runCommand} from '@oclif/test'
import {expect} from 'chai'
import {mkdtempSync, readFileSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {commandLineFor, commandRef, fillCommandRefs} from '../../src/lib/command-line.js'
import {ROOT} from '../support/cli.js'

describe('command-line: how hints name our commands', () => {
  it("spells a command with the running CLI's bin and topic separator", () => {
    expect(commandLineFor('scalingo-tcp')('scalingo:login')).to.equal('scalingo-tcp scalingo:login')
    expect(commandLineFor('heroku', ':')('addons:tcp:info')).to.equal('heroku addons:tcp:info')
    expect(commandLineFor('acme', ' ')('addons:tcp:info')).to.equal('acme addons tcp info')
    expect(commandLineFor('acme', ' ')('env')).to.equal('acme env')
  })

  it('fills every placeholder in a text, and leaves the rest of it as it is', () => {
    const text = `Run \`${commandRef('scalingo:logout')}\` then \`${commandRef('scalingo:login')}\` ({{command}} stays)`
    expect(text).to.not.include('scalingo-tcp')
    expect(fillCommandRefs(text, commandLineFor('heroku'))).to.equal(
      'Run `heroku scalingo:logout` then `heroku scalingo:login` ({{command}} stays)',
    )
    expect(fillCommandRefs(`Start one with: ${commandRef('tcp:proxy')}`, commandLineFor('acme', ' '))).to.equal(
      'Start one with: acme tcp proxy',
    )
  })

  describe('in a CLI whose topic separator is a space (in-process, our package.json with topicSeparator " ")', () => {
    let home: string
    const saved = {...process.env}
    const pjson = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'))
    const spaced = {root: ROOT, pjson: {...pjson, oclif: {...pjson.oclif, topicSeparator: ' '}}}

    before(() => {
      home = mkdtempSync(join(tmpdir(), 'scalingo-tcp-separator-'))
      // No token anywhere, and an auth URL nothing listens on: the hint comes before any request.
      Object.assign(process.env, {
        HOME: home,
        XDG_CONFIG_HOME: join(home, 'config'),
        SCALINGO_AUTH_URL: 'http://127.0.0.1:9',
        SCALINGO_API_URL: 'http://127.0.0.1:9',
      })
      delete process.env.SCALINGO_API_TOKEN
      delete process.env.SCALINGO_TCP_CONFIG_DIR
    })

    after(() => {
      process.env = saved
      rmSync(home, {recursive: true, force: true})
    })

    it('BaseCommand fills the placeholders of an error thrown deep in lib: `scalingo-tcp scalingo login`', async () => {
      const {error} = await runCommand(['env', '-a', 'my-app'], spaced)
      expect(error?.message).to.equal('Not logged in: no Scalingo API token found.')
      const suggestions = (error as {suggestions?: string[]}).suggestions ?? []
      expect(suggestions[0]).to.equal('Run `scalingo-tcp scalingo login` (or `scalingo login`) to log in')
    })

    it('and in the --json error', async () => {
      const {stdout} = await runCommand(['addons:tcp:info', '-a', 'my-app', '--json'], spaced)
      expect(JSON.parse(stdout).error.suggestions[0]).to.include('`scalingo-tcp scalingo login`')
    })
  })
})
