import {runCommand} from '@oclif/test'
import {expect} from 'chai'
import {randomBytes} from 'node:crypto'
import {existsSync, rmSync} from 'node:fs'
import {join} from 'node:path'

import {type CliResult, ROOT, runCli} from '../helpers/cli.js'
import {FakeScalingo, homeWithScalingoCliLogin} from '../helpers/fake-scalingo.js'

const TOKEN = `tk-us-${randomBytes(18).toString('hex')}`
const CLI_TOKEN = `tk-us-${randomBytes(18).toString('hex')}`

describe('logout', () => {
  let fake: FakeScalingo
  let home: string
  let cliAuthPath: string
  const outputs: string[] = []

  before(async () => {
    fake = new FakeScalingo()
    await fake.start()
    fake.addUser(TOKEN, {username: 'jdoe'})
    fake.addUser(CLI_TOKEN, {username: 'cli-user'})
    fake.addApp('my-app', {variables: {WHO: 'me'}})
  })

  beforeEach(() => {
    // The Scalingo CLI is logged in too: its file must never change.
    const scalingoCli = homeWithScalingoCliLogin('scalingo-tcp-logout-', '127.0.0.1', CLI_TOKEN)
    home = scalingoCli.home
    cliAuthPath = scalingoCli.cliAuthPath
  })

  afterEach(() => rmSync(home, {recursive: true, force: true}))
  after(() => fake.stop())

  const credentials = () => join(home, '.config', 'scalingo-tcp', 'credentials.json')

  async function cli(args: string[], options: {input?: string; env?: Record<string, string | undefined>} = {}): Promise<CliResult> {
    const result = await runCli(args, {input: options.input, env: {HOME: home, ...fake.env(), ...options.env}})
    outputs.push(result.stdout, result.stderr)
    return result
  }

  it('logout removes our token and leaves the Scalingo CLI login alone', async () => {
    await cli(['login', '--api-token-stdin'], {input: TOKEN})
    const result = await cli(['logout'])
    expect(result.code, result.stderr).to.equal(0)
    expect(result.stderr).to.include(`Logged out: removed the token stored in ${credentials()}.`)
    expect(result.stderr).to.include("The Scalingo CLI's own login, if any, is untouched")
    expect(existsSync(credentials())).to.equal(false)
    expect(existsSync(cliAuthPath)).to.equal(true)
    const again = await cli(['logout'])
    expect(again.code).to.equal(0)
    expect(again.stderr).to.include('nothing to remove')
  })

  it('logout works in-process', async () => {
    const saved = {...process.env}
    Object.assign(process.env, {HOME: home, ...fake.env()})
    delete process.env.SCALINGO_API_TOKEN
    try {
      const {stderr, error} = await runCommand(['logout'], {root: ROOT})
      expect(error).to.equal(undefined)
      expect(stderr).to.include('nothing to remove')
    } finally {
      process.env = saved
    }
  })

  it('never prints a token or a JWT', () => {
    const all = outputs.join('\n')
    for (const secret of [TOKEN, CLI_TOKEN, ...fake.jwts.keys()]) expect(all).to.not.include(secret)
  })
})
