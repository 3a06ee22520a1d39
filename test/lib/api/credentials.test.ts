import {expect} from 'chai'
import {chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {
  readScalingoCliToken,
  removeStoredToken,
  resolveApiToken,
  scalingoCliAuthPath,
  storeToken,
} from '../../../src/lib/api/credentials.js'
import {authHost} from '../../../src/lib/api/regions.js'
import {commandRef} from '../../../src/lib/command-line.js'
import {configDir, credentialsPath} from '../../../src/lib/config-dir.js'
import {CliError, ExitCode} from '../../../src/lib/errors.js'
import {scalingoCliAuthFile} from '../../support/fake-scalingo.js'

describe('API token resolution', () => {
  let home: string
  let env: NodeJS.ProcessEnv

  beforeEach(() => {
    home = mkdtempSync(join(tmpdir(), 'scalingo-tcp-creds-'))
    env = {HOME: home, SCALINGO_AUTH_URL: 'http://127.0.0.1:4567'}
  })

  afterEach(() => rmSync(home, {recursive: true, force: true}))

  function writeCliAuth(token: string, host = '127.0.0.1') {
    mkdirSync(join(home, '.config', 'scalingo'), {recursive: true})
    writeFileSync(join(home, '.config', 'scalingo', 'auth'), scalingoCliAuthFile(host, token), {mode: 0o700})
  }

  it('keys credentials by the auth host without its port', () => {
    expect(authHost(env)).to.equal('127.0.0.1')
    expect(authHost({})).to.equal('auth.scalingo.com')
  })

  it('puts our config in SCALINGO_TCP_CONFIG_DIR, else XDG_CONFIG_HOME/scalingo-tcp, else ~/.config/scalingo-tcp', () => {
    expect(configDir({HOME: '/h'})).to.equal('/h/.config/scalingo-tcp')
    expect(configDir({HOME: '/h', XDG_CONFIG_HOME: '/x'})).to.equal('/x/scalingo-tcp')
    expect(configDir({HOME: '/h', XDG_CONFIG_HOME: '/x', SCALINGO_TCP_CONFIG_DIR: '/c'})).to.equal('/c')
  })

  it('prefers SCALINGO_API_TOKEN over the stored token and the Scalingo CLI login', async () => {
    await storeToken('127.0.0.1', 'tk-us-stored', 'me', env)
    writeCliAuth('tk-us-cli')
    expect(await resolveApiToken({...env, SCALINGO_API_TOKEN: 'tk-us-env'})).to.deep.equal({
      token: 'tk-us-env',
      source: 'env',
      origin: 'SCALINGO_API_TOKEN',
    })
  })

  it('prefers the token stored by login over the Scalingo CLI login', async () => {
    await storeToken('127.0.0.1', 'tk-us-stored', 'me', env)
    writeCliAuth('tk-us-cli')
    const resolved = await resolveApiToken(env)
    expect(resolved).to.deep.equal({token: 'tk-us-stored', source: 'login', origin: credentialsPath(env)})
  })

  it("falls back to the Scalingo CLI's auth file, reading it without ever writing it", async () => {
    writeCliAuth('tk-us-cli')
    const path = join(home, '.config', 'scalingo', 'auth')
    const before = {content: readFileSync(path, 'utf8'), mtime: statSync(path).mtimeMs}
    const resolved = await resolveApiToken(env)
    expect(resolved).to.deep.equal({token: 'tk-us-cli', source: 'scalingo-cli', origin: path})
    expect(readFileSync(path, 'utf8')).to.equal(before.content)
    expect(statSync(path).mtimeMs).to.equal(before.mtime)
  })

  it('honours AUTH_FILE and CONFIG_DIR for the Scalingo CLI file', async () => {
    expect(scalingoCliAuthPath({HOME: '/h'})).to.equal('/h/.config/scalingo/auth')
    expect(scalingoCliAuthPath({HOME: '/h', CONFIG_DIR: '/cfg'})).to.equal('/cfg/auth')
    expect(scalingoCliAuthPath({HOME: '/h', CONFIG_DIR: '/cfg', AUTH_FILE: '/a/auth.json'})).to.equal('/a/auth.json')
    const file = join(home, 'elsewhere.json')
    writeFileSync(file, scalingoCliAuthFile('127.0.0.1', 'tk-us-custom'))
    expect(await readScalingoCliToken('127.0.0.1', {...env, AUTH_FILE: file})).to.deep.equal({
      token: 'tk-us-custom',
      path: file,
    })
  })

  it('ignores a Scalingo CLI entry for another auth host', async () => {
    writeCliAuth('tk-us-cli', 'auth.scalingo.com')
    const error = await resolveApiToken(env).catch((e: CliError) => e)
    expect(error).to.be.instanceOf(CliError)
    expect((error as CliError).exitCode).to.equal(ExitCode.Auth)
  })

  it('fails with exit 3 and says how to log in when there is no token at all', async () => {
    const error = (await resolveApiToken(env).catch((e) => e)) as CliError
    expect(error.exitCode).to.equal(ExitCode.Auth)
    expect(error.message).to.equal('Not logged in: no Scalingo API token found.')
    // the command layer fills the placeholder with the command as the running CLI spells it
    expect(error.suggestions.join('\n')).to.include(commandRef('scalingo:login')).and.include('SCALINGO_API_TOKEN')
  })

  it('stores the token with mode 0600 in a 0700 directory, and removes only it', async () => {
    const path = await storeToken('127.0.0.1', 'tk-us-stored', 'me', env)
    expect(statSync(path).mode & 0o777).to.equal(0o600)
    expect(statSync(join(home, '.config', 'scalingo-tcp')).mode & 0o777).to.equal(0o700)
    await storeToken('auth.scalingo.com', 'tk-us-other', 'me', env)
    expect(await removeStoredToken('127.0.0.1', env)).to.equal(true)
    expect(JSON.parse(readFileSync(path, 'utf8')).tokens).to.have.keys(['auth.scalingo.com'])
    expect(await removeStoredToken('127.0.0.1', env)).to.equal(false)
  })

  it('replaces a file with a looser mode by a new 0600 one, leaving no temp file behind', async () => {
    const path = credentialsPath(env)
    mkdirSync(join(home, '.config', 'scalingo-tcp'), {recursive: true})
    writeFileSync(path, '{"tokens": {}}', {mode: 0o644})
    const inode = statSync(path).ino
    await storeToken('127.0.0.1', 'tk-us-stored', 'me', env)
    expect(statSync(path).mode & 0o777).to.equal(0o600)
    // A new file renamed over the old one: the loose file itself never received the token.
    expect(statSync(path).ino).to.not.equal(inode)
    expect(readdirSync(join(home, '.config', 'scalingo-tcp'))).to.deep.equal(['credentials.json'])
    expect(await resolveApiToken(env)).to.deep.include({token: 'tk-us-stored', source: 'login'})
  })

  it('refuses a token file readable by group or others, saying to chmod 600 it', async () => {
    const path = await storeToken('127.0.0.1', 'tk-us-stored', 'me', env)
    chmodSync(path, 0o640)
    const error = (await resolveApiToken(env).catch((e) => e)) as CliError
    expect(error.exitCode).to.equal(ExitCode.Auth)
    expect(error.message).to.include('readable by other users (mode 640)')
    expect(error.suggestions[0]).to.equal(`Run \`chmod 600 ${path}\``)
  })
})
