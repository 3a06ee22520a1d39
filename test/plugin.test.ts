import {expect} from 'chai'
import {spawn} from 'node:child_process'
import {randomBytes} from 'node:crypto'
import {existsSync, mkdtempSync, readFileSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {baseEnv, ROOT} from './helpers/cli.js'
import {FakeScalingo} from './helpers/fake-scalingo.js'

const HOST_BIN = join(ROOT, 'test', 'fixtures', 'host-cli', 'bin', 'run.js')
const TOKEN = `tk-us-${randomBytes(18).toString('hex')}`

/** Runs the fixture host CLI with its data, config and cache isolated under `dir`. */
function host(args: string[], dir: string, env: Record<string, string> = {}) {
  return new Promise<{code: number | null; stdout: string; stderr: string}>((resolve, reject) => {
    const child = spawn(process.execPath, [HOST_BIN, ...args], {
      cwd: dir,
      env: {
        ...baseEnv(),
        HOME: dir,
        XDG_DATA_HOME: join(dir, 'data'),
        XDG_CONFIG_HOME: join(dir, 'config'),
        XDG_CACHE_HOME: join(dir, 'cache'),
        ...env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let stdout = ''
    let stderr = ''
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d))
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d))
    child.on('error', reject)
    child.on('close', (code) => resolve({code, stdout, stderr}))
  })
}

describe('as an oclif plugin linked into another CLI', () => {
  let dir: string
  let fake: FakeScalingo

  before(async function () {
    if (!existsSync(join(ROOT, 'dist', 'commands', 'env.js'))) {
      throw new Error('dist/ is missing: run `npm run build` first (npm test does)')
    }

    dir = mkdtempSync(join(tmpdir(), 'scalingo-tcp-host-'))
    fake = new FakeScalingo()
    await fake.start()
    fake.addUser(TOKEN)
    fake.addApp('my-app', {variables: {TCP_URL: 'tcp://tcp-1.osc-fr1.scalingo.com:20003', B: 'x y'}})
  })

  after(async () => {
    await fake?.stop()
    if (dir) rmSync(dir, {recursive: true, force: true})
  })

  it('links with plugins:link --no-install (offline, no npm install)', async () => {
    const result = await host(['plugins:link', ROOT, '--no-install'], dir)
    expect(result.code, result.stderr).to.equal(0)
    const pjson = JSON.parse(readFileSync(join(dir, 'data', 'host-cli', 'package.json'), 'utf8'))
    expect(pjson.oclif.plugins).to.deep.include({name: 'scalingo-tcp', root: ROOT.replace(/\/$/, ''), type: 'link'})
    const list = await host(['plugins'], dir)
    expect(list.stdout).to.match(/scalingo-tcp \d+\.\d+\.\d+ \(link\)/)
  })

  it('runs `host env -a my-app` against the fake platform', async () => {
    const result = await host(['env', '-a', 'my-app'], dir, {...fake.env(), SCALINGO_API_TOKEN: TOKEN})
    expect(result.code, result.stderr).to.equal(0)
    expect(result.stdout).to.equal('B=x y\nTCP_URL=tcp://tcp-1.osc-fr1.scalingo.com:20003\n')
    expect(fake.requestsTo('GET', '/v1/apps/my-app/variables')[0].headers['user-agent']).to.match(/^scalingo-tcp\//)
  })

  it('exposes login and logout in the host', async () => {
    const result = await host(['login', '--help'], dir)
    expect(result.code, result.stderr).to.equal(0)
    expect(result.stdout).to.include('$ host login').and.include('--api-token-stdin')
  })
})
