import {runCommand} from '@oclif/test'
import {expect} from 'chai'
import {randomBytes} from 'node:crypto'
import {existsSync} from 'node:fs'

import {ROOT} from '../../support/cli.js'
import {usePlatform} from '../../support/platform.js'

const TOKEN = `tk-us-${randomBytes(18).toString('hex')}`
const CLI_TOKEN = `tk-us-${randomBytes(18).toString('hex')}`

describe('scalingo:logout', () => {
  const platform = usePlatform(
    'scalingo-tcp-logout-',
    (fake) => {
      fake.addUser(TOKEN, {username: 'jdoe'})
      fake.addUser(CLI_TOKEN, {username: 'cli-user'})
      fake.addApp('my-app', {variables: {WHO: 'me'}})
    },
    {scalingoCliToken: CLI_TOKEN},
  )
  const {cli} = platform
  const credentials = () => platform.configFile('credentials.json')

  it('logout removes our token and leaves the Scalingo CLI login alone', async () => {
    await cli(['scalingo:login', '--api-token-stdin'], {input: TOKEN})
    const result = await cli(['scalingo:logout'])
    expect(result.code, result.stderr).to.equal(0)
    expect(result.stderr).to.include(`Logged out: removed the token stored in ${credentials()}.`)
    expect(result.stderr).to.include("The Scalingo CLI's own login, if any, is untouched")
    expect(existsSync(credentials())).to.equal(false)
    expect(existsSync(platform.cliAuthPath)).to.equal(true)
    const again = await cli(['scalingo:logout'])
    expect(again.code).to.equal(0)
    expect(again.stderr).to.include('nothing to remove')
  })

  it('logout works in-process', async () => {
    const saved = {...process.env}
    Object.assign(process.env, {HOME: platform.home, ...platform.fake.env()})
    delete process.env.SCALINGO_API_TOKEN
    try {
      const {stderr, error} = await runCommand(['scalingo:logout'], {root: ROOT})
      expect(error).to.equal(undefined)
      expect(stderr).to.include('nothing to remove')
    } finally {
      process.env = saved
    }
  })

  it('never prints a token or a JWT', () => {
    const all = platform.outputs.join('\n')
    for (const secret of [TOKEN, CLI_TOKEN, ...platform.fake.jwts.keys()]) expect(all).to.not.include(secret)
  })
})
