import {expect} from 'chai'
import {mkdirSync, rmSync} from 'node:fs'
import {join} from 'node:path'

import {appNameFromRemoteUrl, resolveApp, sshHostFromRemoteUrl} from '../../../src/lib/api/app.js'
import {ScalingoClient} from '../../../src/lib/api/client.js'
import {resolveRegion} from '../../../src/lib/api/regions.js'
import {ExitCode, UsageError} from '../../../src/lib/errors.js'
import {FakeScalingo, gitRepo} from '../../support/fake-scalingo.js'

describe('app and region detection', () => {
  const dirs: string[] = []
  after(() => {
    for (const dir of dirs) rmSync(dir, {recursive: true, force: true})
  })

  function repo(remotes: Record<string, string>): string {
    const dir = gitRepo(remotes)
    dirs.push(dir)
    return dir
  }

  it('parses remote URLs as the Scalingo CLI does', () => {
    expect(appNameFromRemoteUrl('git@ssh.osc-fr1.scalingo.com:my-app.git')).to.equal('my-app')
    expect(appNameFromRemoteUrl('ssh://git@ssh.osc-fr1.scalingo.com:2200/my-app.git')).to.equal('my-app')
    expect(sshHostFromRemoteUrl('git@ssh.osc-secnum-fr1.scalingo.com:my-app.git')).to.equal(
      'ssh.osc-secnum-fr1.scalingo.com',
    )
    expect(sshHostFromRemoteUrl('ssh://git@ssh.osc-fr1.scalingo.com:2200/my-app.git')).to.equal(
      'ssh.osc-fr1.scalingo.com',
    )
  })

  it('finds the app from the scalingo remote, walking up from a subdirectory', () => {
    const dir = repo({
      origin: 'git@github.com:me/other.git',
      scalingo: 'git@ssh.osc-secnum-fr1.scalingo.com:my-app.git',
    })
    const sub = join(dir, 'a', 'b')
    mkdirSync(sub, {recursive: true})
    const app = resolveApp({cwd: sub, env: {}})
    expect(app).to.deep.include({name: 'my-app', source: 'git-remote'})
    expect(app.remote).to.deep.equal({name: 'scalingo', url: 'git@ssh.osc-secnum-fr1.scalingo.com:my-app.git'})
  })

  it('uses -r/--remote, also as scalingo-<remote>', () => {
    const dir = repo({
      scalingo: 'git@ssh.osc-fr1.scalingo.com:prod-app.git',
      'scalingo-staging': 'git@ssh.osc-fr1.scalingo.com:staging-app.git',
    })
    expect(resolveApp({cwd: dir, remote: 'staging', env: {}}).name).to.equal('staging-app')
    expect(resolveApp({cwd: dir, remote: 'scalingo-staging', env: {}}).name).to.equal('staging-app')
    expect(resolveApp({cwd: dir, env: {}}).name).to.equal('prod-app')
  })

  it('ignores remotes that are not Scalingo git hosts', () => {
    const dir = repo({scalingo: 'git@github.com:me/not-scalingo.git'})
    expect(() => resolveApp({cwd: dir, env: {}})).to.throw(UsageError)
  })

  it('prefers --app, then SCALINGO_APP, over the remote', () => {
    const dir = repo({scalingo: 'git@ssh.osc-fr1.scalingo.com:remote-app.git'})
    expect(resolveApp({cwd: dir, app: 'flag-app', env: {SCALINGO_APP: 'env-app'}})).to.deep.include({
      name: 'flag-app',
      source: 'flag',
    })
    expect(resolveApp({cwd: dir, env: {SCALINGO_APP: 'env-app'}})).to.deep.include({name: 'env-app', source: 'env'})
  })

  it('fails with a usage error (exit 2) when no app can be found', () => {
    const dir = repo({})
    try {
      resolveApp({cwd: dir, env: {}})
      expect.fail('should have thrown')
    } catch (error) {
      expect((error as UsageError).exitCode).to.equal(ExitCode.Usage)
      expect((error as UsageError).suggestions.join(' ')).to.include('-a/--app')
    }
  })

  describe('region precedence', () => {
    let fake: FakeScalingo
    before(async () => {
      fake = new FakeScalingo()
      await fake.start()
      fake.addUser('tk-us-region-test')
    })
    after(() => fake.stop())

    function client() {
      return new ScalingoClient({
        env: {SCALINGO_AUTH_URL: fake.url, SCALINGO_API_TOKEN: 'tk-us-region-test', SCALINGO_TCP_NO_JWT_CACHE: '1'},
      })
    }

    const secnumHost = 'ssh.osc-secnum-fr1.scalingo.com'
    const env = (extra: Record<string, string> = {}) => ({SCALINGO_AUTH_URL: fake.url, ...extra})

    it('--region beats the remote', async () => {
      const region = await resolveRegion(client(), {
        flag: 'osc-fr1',
        remoteSshHost: secnumHost,
        env: env({SCALINGO_REGION: 'osc-secnum-fr1'}),
      })
      expect(region).to.deep.equal({name: 'osc-fr1', apiUrl: `${fake.url}/_region/osc-fr1`, source: 'flag'})
    })

    it('the remote beats SCALINGO_REGION', async () => {
      const region = await resolveRegion(client(), {remoteSshHost: secnumHost, env: env({SCALINGO_REGION: 'osc-fr1'})})
      expect(region).to.deep.equal({
        name: 'osc-secnum-fr1',
        apiUrl: `${fake.url}/_region/osc-secnum-fr1`,
        source: 'git-remote',
      })
    })

    it('SCALINGO_REGION beats the default, which is osc-fr1', async () => {
      expect((await resolveRegion(client(), {env: env({SCALINGO_REGION: 'osc-secnum-fr1'})})).name).to.equal(
        'osc-secnum-fr1',
      )
      expect(await resolveRegion(client(), {env: env()})).to.deep.include({name: 'osc-fr1', source: 'default'})
    })

    it('keeps the resolved region name but uses SCALINGO_API_URL when it is set', async () => {
      const region = await resolveRegion(client(), {
        remoteSshHost: secnumHost,
        env: env({SCALINGO_API_URL: 'http://127.0.0.1:9/'}),
      })
      expect(region).to.deep.equal({name: 'osc-secnum-fr1', apiUrl: 'http://127.0.0.1:9', source: 'git-remote'})
    })

    it('rejects a SCALINGO_API_URL or SCALINGO_AUTH_URL that is not an http(s) URL (exit 2, naming the variable)', async () => {
      for (const value of ['127.0.0.1:4567', 'not a url', 'ftp://example.com']) {
        const api = (await resolveRegion(client(), {env: env({SCALINGO_API_URL: value})}).catch((e) => e)) as UsageError
        expect(api).to.be.instanceOf(UsageError)
        expect(api.message).to.equal(`SCALINGO_API_URL is not an http(s) URL: ${value}`)
        expect(() => new ScalingoClient({env: {SCALINGO_AUTH_URL: value}})).to.throw(
          UsageError,
          `SCALINGO_AUTH_URL is not an http(s) URL: ${value}`,
        )
      }
    })

    it('rejects an unknown region with the list of known ones (exit 2)', async () => {
      const error = (await resolveRegion(client(), {flag: 'mars-1', env: env()}).catch((e) => e)) as UsageError
      expect(error.exitCode).to.equal(ExitCode.Usage)
      expect(error.message).to.equal("Unknown region 'mars-1' (from --region).")
      expect(error.suggestions).to.deep.equal(['Use one of: osc-fr1, osc-secnum-fr1'])
    })
  })
})
