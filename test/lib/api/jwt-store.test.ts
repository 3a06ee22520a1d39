import {expect} from 'chai'
import {execFileSync} from 'node:child_process'
import {randomBytes} from 'node:crypto'
import {chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {ScalingoClient} from '../../../src/lib/api/client.js'
import {cachedJwt, jwtCacheKey, readJwtCache, saveJwt} from '../../../src/lib/api/jwt-store.js'
import {authenticate, logout} from '../../../src/lib/api/login.js'
import {getCurrentUser, listVariables} from '../../../src/lib/api/resources.js'
import {jwtExpiry, REFRESH_MARGIN_MS} from '../../../src/lib/api/token-exchange.js'
import {jwtCachePath} from '../../../src/lib/config-dir.js'
import {FakeScalingo} from '../../support/fake-scalingo.js'

const TOKEN = `tk-us-${randomBytes(16).toString('hex')}`
const OTHER_TOKEN = `tk-us-${randomBytes(16).toString('hex')}`

/** A JWT-shaped string with the given exp (seconds since the epoch); the fake platform would refuse it. */
function fakeJwt(exp: number): string {
  const part = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url')
  return `${part({alg: 'HS256', typ: 'JWT'})}.${part({exp, jti: randomBytes(4).toString('hex')})}.c2lnbmF0dXJl`
}

describe('JWT cache on disk', () => {
  let fake: FakeScalingo
  let dir: string
  let logs: string[]

  beforeEach(async () => {
    fake = new FakeScalingo()
    await fake.start()
    fake.addUser(TOKEN, {username: 'jdoe'})
    fake.addUser(OTHER_TOKEN, {username: 'other'})
    fake.addApp('my-app', {variables: {A: '1'}})
    dir = mkdtempSync(join(tmpdir(), 'scalingo-tcp-jwt-cache-'))
    logs = []
  })

  afterEach(async () => {
    await fake.stop()
    rmSync(dir, {recursive: true, force: true})
  })

  const configDir = () => join(dir, 'config')
  const env = (extra: Record<string, string> = {}) => ({
    ...fake.env(),
    SCALINGO_TCP_CONFIG_DIR: configDir(),
    SCALINGO_API_TOKEN: TOKEN,
    ...extra,
  })
  const cachePath = () => jwtCachePath({SCALINGO_TCP_CONFIG_DIR: configDir()})
  const exchanges = () => fake.requestsTo('POST', '/v1/tokens/exchange').length
  /** A new client per call: what a new command (a new process) gets. */
  const client = (extra: Record<string, string> = {}) =>
    new ScalingoClient({
      env: env(extra),
      region: {name: 'osc-fr1', apiUrl: fake.url, source: 'default'},
      log: (line) => logs.push(line),
    })
  const cacheFile = () =>
    JSON.parse(readFileSync(cachePath(), 'utf8')) as {entries: Record<string, {jwt: string; exp: number}>}
  const bearer = (path: string) => fake.requestsTo('GET', path).map((r) => r.headers.authorization)

  it('a second command reuses the JWT the first one exchanged (no exchange), from a 0600 file in a 0700 directory', async () => {
    await listVariables(client(), 'my-app')
    expect(exchanges()).to.equal(1)
    await listVariables(client(), 'my-app')
    expect(exchanges()).to.equal(1)
    const [first, second] = bearer('/v1/apps/my-app/variables')
    expect(second).to.equal(first)
    expect(statSync(cachePath()).mode & 0o777).to.equal(0o600)
    expect(statSync(configDir()).mode & 0o777).to.equal(0o700)
    const {entries} = cacheFile()
    const key = jwtCacheKey(fake.url, TOKEN)
    expect(Object.keys(entries)).to.deep.equal([key])
    expect(`Bearer ${entries[key].jwt}`).to.equal(first)
    expect(entries[key].exp).to.equal(jwtExpiry(entries[key].jwt))
    expect(readFileSync(cachePath(), 'utf8')).to.not.include(TOKEN)
  })

  it('exchanges again when the cached JWT expires within the refresh margin, and overwrites the entry', async () => {
    fake.jwtLifetimeSeconds = REFRESH_MARGIN_MS / 1000 - 60
    await listVariables(client(), 'my-app')
    const stale = cacheFile().entries[jwtCacheKey(fake.url, TOKEN)].jwt
    fake.jwtLifetimeSeconds = 3600
    await listVariables(client(), 'my-app')
    expect(exchanges()).to.equal(2)
    const fresh = cacheFile().entries[jwtCacheKey(fake.url, TOKEN)].jwt
    expect(fresh).to.not.equal(stale)
    expect(bearer('/v1/apps/my-app/variables')[1]).to.equal(`Bearer ${fresh}`)
  })

  it('replaces a cached JWT the platform refuses (401), replaying the request once', async () => {
    await listVariables(client(), 'my-app')
    const refused = cacheFile().entries[jwtCacheKey(fake.url, TOKEN)].jwt
    fake.revokeJwts()
    const variables = await listVariables(client(), 'my-app')
    expect(variables.map((v) => v.name)).to.deep.equal(['A'])
    expect(fake.requestsTo('GET', '/v1/apps/my-app/variables').map((r) => r.status)).to.deep.equal([200, 401, 200])
    expect(exchanges()).to.equal(2)
    const replacement = cacheFile().entries[jwtCacheKey(fake.url, TOKEN)].jwt
    expect(replacement).to.not.equal(refused)
    // The next command uses the replacement without exchanging.
    await listVariables(client(), 'my-app')
    expect(exchanges()).to.equal(2)
  })

  it('never gives a token the JWT of another token or of another auth service', async () => {
    await listVariables(client(), 'my-app')
    const user = await getCurrentUser(client({SCALINGO_API_TOKEN: OTHER_TOKEN}))
    expect(user.username).to.equal('other')
    expect(exchanges()).to.equal(2)
    expect(Object.keys(cacheFile().entries)).to.have.members([
      jwtCacheKey(fake.url, TOKEN),
      jwtCacheKey(fake.url, OTHER_TOKEN),
    ])
    // Same token, another auth URL (a trailing slash is the same URL): a key of its own.
    expect(jwtCacheKey(`${fake.url}0`, TOKEN)).to.not.equal(jwtCacheKey(fake.url, TOKEN))
    await getCurrentUser(client({SCALINGO_AUTH_URL: `${fake.url}/`}))
    expect(exchanges()).to.equal(2)
  })

  it('ignores a cache file other users can read, then replaces it with a 0600 one', async () => {
    await listVariables(client(), 'my-app')
    chmodSync(cachePath(), 0o644)
    await listVariables(client(), 'my-app')
    expect(exchanges()).to.equal(2)
    expect(statSync(cachePath()).mode & 0o777).to.equal(0o600)
    expect(logs.join('\n')).to.include(`JWT cache ${cachePath()} ignored: readable by other users (mode 644)`)
  })

  it('ignores a corrupt cache file (no error, no stack trace) and rewrites it', async () => {
    await listVariables(client(), 'my-app')
    for (const garbage of ['{"entries": {"x": ', '', 'null', '{"entries": {"k": {"jwt": 1, "exp": "soon"}}}']) {
      writeFileSync(cachePath(), garbage, {mode: 0o600})
      const before = exchanges()
      expect(await listVariables(client(), 'my-app')).to.have.length(1)
      expect(exchanges(), garbage).to.equal(before + 1)
      expect(Object.keys(cacheFile().entries)).to.deep.equal([jwtCacheKey(fake.url, TOKEN)])
    }
  })

  it('treats a FIFO or a directory in its place as empty, without hanging', async () => {
    const path = join(dir, 'fifo.json')
    execFileSync('mkfifo', [path])
    expect(readJwtCache(path)).to.deep.equal({entries: {}, ignored: 'not a regular file'})
    expect(readJwtCache(dir)).to.deep.equal({entries: {}, ignored: 'not a regular file'})
    expect(readJwtCache(join(dir, 'missing.json'))).to.deep.equal({entries: {}, ignored: undefined})
  })

  it('drops expired entries when writing, and only serves entries valid beyond the margin', async () => {
    const path = join(dir, 'jwt-cache.json')
    const now = Date.now()
    const seconds = (ms: number) => Math.floor((now + ms) / 1000)
    await saveJwt(path, 'expired', fakeJwt(seconds(-1000)), now - 10_000)
    await saveJwt(path, 'soon', fakeJwt(seconds(REFRESH_MARGIN_MS - 60_000)), now)
    await saveJwt(path, 'later', fakeJwt(seconds(3_600_000)), now)
    const file = readJwtCache(path)
    expect(Object.keys(file.entries)).to.have.members(['soon', 'later'])
    expect(cachedJwt(file, 'soon', now)).to.equal(undefined)
    expect(cachedJwt(file, 'later', now)?.jwt).to.equal(file.entries.later.jwt)
    expect(cachedJwt(file, 'unknown', now)).to.equal(undefined)
    // A JWT without a readable exp is not stored: nothing would say when to stop using it.
    expect(await saveJwt(path, 'opaque', 'not-a-jwt', now)).to.equal(false)
    expect(readJwtCache(path).entries).to.not.have.property('opaque')
  })

  it('logout removes the cache file', async () => {
    await listVariables(client(), 'my-app')
    expect(existsSync(cachePath())).to.equal(true)
    await logout(env())
    expect(existsSync(cachePath())).to.equal(false)
    await logout(env())
  })

  it('login always exchanges (it checks the token) but saves the JWT for the next command', async () => {
    await listVariables(client(), 'my-app')
    await authenticate(TOKEN, {env: env()})
    expect(exchanges()).to.equal(2)
    const saved = cacheFile().entries[jwtCacheKey(fake.url, TOKEN)].jwt
    expect(fake.requestsTo('GET', '/v1/users/self')[0].headers.authorization).to.equal(`Bearer ${saved}`)
  })

  it('SCALINGO_TCP_NO_JWT_CACHE=1 neither reads nor writes the file', async () => {
    await listVariables(client({SCALINGO_TCP_NO_JWT_CACHE: '1'}), 'my-app')
    expect(existsSync(cachePath())).to.equal(false)
    await listVariables(client(), 'my-app')
    const written = readFileSync(cachePath(), 'utf8')
    await listVariables(client({SCALINGO_TCP_NO_JWT_CACHE: '1'}), 'my-app')
    expect(exchanges()).to.equal(3)
    expect(readFileSync(cachePath(), 'utf8')).to.equal(written)
    await listVariables(client({SCALINGO_TCP_NO_JWT_CACHE: '0'}), 'my-app')
    expect(exchanges()).to.equal(3)
  })

  it('never puts the token or a JWT in --debug lines', async () => {
    await listVariables(client(), 'my-app')
    fake.revokeJwts()
    await listVariables(client(), 'my-app')
    const jwts = Object.values(cacheFile().entries).map((e) => e.jwt)
    const all = logs.join('\n')
    expect(all).to.include('JWT from the cache')
    expect(all).to.include('JWT saved to the cache')
    for (const secret of [TOKEN, ...jwts, ...bearer('/v1/apps/my-app/variables')])
      expect(all).to.not.include(secret!.replace('Bearer ', ''))
    expect(all).to.not.match(/eyJ[\w-]+\.[\w-]+/)
  })
})
