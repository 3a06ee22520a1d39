import {runCommand} from '@oclif/test'
import {expect} from 'chai'
import {randomBytes} from 'node:crypto'
import {chmodSync, existsSync, readFileSync, statSync} from 'node:fs'
import {join} from 'node:path'
import {Readable} from 'node:stream'

import {ROOT, unwrap} from '../../support/cli.js'
import {usePlatform} from '../../support/platform.js'
import {stripAnsi, TtyCli} from '../../support/tty.js'

const TOKEN = `tk-us-${randomBytes(18).toString('hex')}`
const OTHER_TOKEN = `tk-us-${randomBytes(18).toString('hex')}`
const CLI_TOKEN = `tk-us-${randomBytes(18).toString('hex')}`

describe('scalingo:login', () => {
  const platform = usePlatform(
    'scalingo-tcp-login-',
    (fake) => {
      fake.addUser(TOKEN, {username: 'jdoe'})
      fake.addUser(OTHER_TOKEN, {username: 'other'})
      fake.addUser(CLI_TOKEN, {username: 'cli-user'})
      fake.addApp('my-app', {variables: {WHO: 'me'}})
    },
    {scalingoCliToken: CLI_TOKEN},
  )
  const {cli} = platform
  const credentials = () => platform.configFile('credentials.json')

  function lastExchangedToken(): string {
    const [exchange] = platform.fake.requestsTo('POST', '/v1/tokens/exchange').slice(-1)
    return Buffer.from(exchange.headers.authorization!.replace('Basic ', ''), 'base64').toString().slice(1)
  }

  it('verifies the token from stdin, stores it 0600 in a 0700 directory and says who is logged in', async () => {
    const result = await cli(['scalingo:login', '--api-token-stdin'], {input: `${TOKEN}\n`})
    expect(result.code, result.stderr).to.equal(0)
    expect(result.stdout).to.equal('')
    expect(result.stderr).to.include('Logged in as jdoe\n')
    expect(platform.fake.requestsTo('GET', '/v1/users/self').slice(-1)[0].status).to.equal(200)
    expect(statSync(credentials()).mode & 0o777).to.equal(0o600)
    expect(statSync(join(platform.home, '.config', 'scalingo-tcp')).mode & 0o777).to.equal(0o700)
    expect(JSON.parse(readFileSync(credentials(), 'utf8')).tokens['127.0.0.1']).to.deep.include({
      token: TOKEN,
      username: 'jdoe',
    })
  })

  it('then uses the stored token before the Scalingo CLI login, and SCALINGO_API_TOKEN before both', async () => {
    const before = {content: readFileSync(platform.cliAuthPath, 'utf8'), mtime: statSync(platform.cliAuthPath).mtimeMs}
    expect((await cli(['env', '-a', 'my-app'])).stdout).to.equal('WHO=me\n')
    expect(lastExchangedToken()).to.equal(CLI_TOKEN)
    await cli(['scalingo:login', '--api-token-stdin'], {input: TOKEN})
    expect((await cli(['env', '-a', 'my-app'])).stdout).to.equal('WHO=me\n')
    expect(lastExchangedToken()).to.equal(TOKEN)
    expect((await cli(['env', '-a', 'my-app'], {env: {SCALINGO_API_TOKEN: OTHER_TOKEN}})).stdout).to.equal('WHO=me\n')
    expect(lastExchangedToken()).to.equal(OTHER_TOKEN)
    await cli(['scalingo:logout'])
    expect(readFileSync(platform.cliAuthPath, 'utf8')).to.equal(before.content)
    expect(statSync(platform.cliAuthPath).mtimeMs).to.equal(before.mtime)
  })

  it('refuses an invalid token with exit 3 and stores nothing', async () => {
    const result = await cli(['scalingo:login', '--api-token-stdin'], {input: 'tk-us-wrong-token-value'})
    expect(result.code).to.equal(3)
    expect(unwrap(result.stderr)).to.include('The Scalingo API rejected the API token')
    expect(result.stderr).to.not.match(/\n\s+at /)
    expect(existsSync(credentials())).to.equal(false)
  })

  it('on a terminal, prompts for the token with hidden input, then stores it', async () => {
    const tty = new TtyCli(['scalingo:login'], {env: {HOME: platform.home, ...platform.fake.env()}})
    try {
      await tty.waitFor(/Scalingo API token/)
      tty.type(`${TOKEN}\r`)
      expect(await tty.exited).to.equal(0)
    } finally {
      tty.kill()
    }

    const screen = stripAnsi(tty.output)
    platform.outputs.push(tty.output)
    expect(screen).to.include('Logged in as jdoe')
    // Hidden: not one character of what was typed is echoed (not even as a mask).
    expect(screen).to.not.include(TOKEN.slice(0, 8))
    expect(screen).to.not.match(/\*{8}/)
    expect(JSON.parse(readFileSync(credentials(), 'utf8')).tokens['127.0.0.1'].token).to.equal(TOKEN)
  })

  it('works in-process too, reading the token from stdin', async () => {
    const saved = {env: {...process.env}, stdin: Object.getOwnPropertyDescriptor(process, 'stdin')!}
    Object.assign(process.env, {HOME: platform.home, ...platform.fake.env()})
    delete process.env.SCALINGO_API_TOKEN
    Object.defineProperty(process, 'stdin', {configurable: true, value: Readable.from([`${OTHER_TOKEN}\n`])})
    try {
      const {stdout, stderr, error} = await runCommand(['scalingo:login', '--api-token-stdin'], {root: ROOT})
      platform.outputs.push(stdout, stderr)
      expect(error).to.equal(undefined)
      expect(stdout).to.equal('')
      expect(stderr).to.include('Logged in as other')
      expect(JSON.parse(readFileSync(credentials(), 'utf8')).tokens['127.0.0.1']).to.deep.include({
        token: OTHER_TOKEN,
        username: 'other',
      })
    } finally {
      process.env = saved.env
      Object.defineProperty(process, 'stdin', saved.stdin)
    }
  })

  it('exits 2 when the token read from stdin is empty, and stores nothing', async () => {
    const exchanges = platform.fake.requestsTo('POST', '/v1/tokens/exchange').length
    const result = await cli(['scalingo:login', '--api-token-stdin'], {input: '\n'})
    expect(result.code).to.equal(2)
    expect(unwrap(result.stderr)).to.include('The API token is empty.')
    expect(platform.fake.requestsTo('POST', '/v1/tokens/exchange')).to.have.length(exchanges)
    expect(existsSync(credentials())).to.equal(false)
  })

  it('exits 2 explaining --api-token-stdin when stdin is not a terminal', async () => {
    const result = await cli(['scalingo:login'])
    expect(result.code).to.equal(2)
    expect(unwrap(result.stderr))
      .to.include('stdin is not a terminal')
      .and.include('`echo "$TOKEN" | scalingo-tcp scalingo:login --api-token-stdin`')
  })

  it('has no `login` short form (a host has its own `login`): exit 127', async () => {
    const result = await cli(['login', '--api-token-stdin'], {input: TOKEN})
    expect(result.code).to.equal(127)
    expect(unwrap(result.stderr)).to.include('login is not a scalingo-tcp command')
  })

  it('refuses a stored token file readable by group or others (exit 3, says chmod 600)', async () => {
    await cli(['scalingo:login', '--api-token-stdin'], {input: TOKEN})
    chmodSync(credentials(), 0o644)
    const result = await cli(['env', '-a', 'my-app'])
    expect(result.code).to.equal(3)
    expect(unwrap(result.stderr))
      .to.include(`chmod 600 ${credentials()}`)
      .and.include('Or log in again with `scalingo-tcp scalingo:login`')
  })

  it('never prints a token or a JWT', () => {
    const all = platform.outputs.join('\n')
    for (const secret of [TOKEN, OTHER_TOKEN, CLI_TOKEN, ...platform.fake.jwts.keys()])
      expect(all).to.not.include(secret)
  })
})
