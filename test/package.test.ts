import {expect} from 'chai'
import {execFile, spawn} from 'node:child_process'
import {existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {promisify} from 'node:util'

import {baseEnv, npmEnv, ROOT} from './support/cli.js'
import {FakeScalingo} from './support/fake-scalingo.js'
import {SERVERS} from './support/proxy.js'

const execFileP = promisify(execFile)

// The tarball as `npm pack` makes it (prepack builds the prebuilt relay), installed the way a machine without a
// compiler, or an npm that blocks install scripts, ends up with it: no script runs, so nothing is built.
describe('the packed package on a machine that builds nothing', function () {
  this.timeout(180_000)
  let dir: string
  let installed: string

  before(async function () {
    if (process.platform !== 'linux' || process.arch !== 'x64') this.skip()
    dir = mkdtempSync(join(tmpdir(), 'scalingo-tcp-package-'))
    const env = {...process.env, ...npmEnv()}
    // With scripts: prepack (npm run build:prebuilt) builds the relay the tarball ships.
    const {stdout} = await execFileP('npm', ['pack', '--silent', '--pack-destination', dir], {
      cwd: ROOT,
      env,
      timeout: 120_000,
    })
    const tarball = join(dir, stdout.trim().split('\n').pop()!)
    await execFileP(
      'npm',
      ['install', '--ignore-scripts', '--prefer-offline', '--no-audit', '--no-fund', '--prefix', dir, tarball],
      {
        cwd: dir,
        env,
        timeout: 120_000,
      },
    )
    installed = join(dir, 'node_modules', 'scalingo-tcp')
  })

  after(() => {
    if (dir) rmSync(dir, {recursive: true, force: true})
  })

  it('ships one N-API relay for linux-x64 (glibc) and nothing built on this machine', () => {
    expect(readdirSync(join(installed, 'prebuilds', 'linux-x64'))).to.deep.equal(['scalingo-tcp.glibc.node'])
    expect(existsSync(join(installed, 'build'))).to.equal(false)
  })

  it('runs the gateway on the native relay from the prebuild', async () => {
    const probe = `
      const m = await import(${JSON.stringify(join(installed, 'dist/lib/gateway/native-transport.js'))})
      console.log(JSON.stringify({path: m.findAddon(), native: m.nativeTransport() !== null, reason: m.nativeUnavailableReason() ?? null}))`
    const {stdout} = await execFileP(process.execPath, ['--input-type=module', '-e', probe], {cwd: dir})
    const result = JSON.parse(stdout) as {path: string; native: boolean; reason: string | null}
    expect(result.path).to.equal(join(installed, 'prebuilds', 'linux-x64', 'scalingo-tcp.glibc.node'))
    expect(result).to.include({native: true, reason: null})
  })

  it('says why and what to do when there is neither a prebuild nor a build', async () => {
    rmSync(join(installed, 'prebuilds'), {recursive: true, force: true})
    const probe = `
      const m = await import(${JSON.stringify(join(installed, 'dist/lib/gateway/native-transport.js'))})
      console.log(JSON.stringify({native: m.nativeTransport() !== null, reason: m.nativeUnavailableReason() ?? null}))`
    const {stdout} = await execFileP(process.execPath, ['--input-type=module', '-e', probe], {cwd: dir})
    expect(JSON.parse(stdout)).to.deep.equal({
      native: false,
      reason: 'no relay was built and no prebuilt one fits linux-x64',
    })
  })

  it('tells the terminal at install when the relay cannot be built, and the install still succeeds', async () => {
    // npm rebuild runs the install script as `npm install` would; CC/CXX=false make the compiler fail. npm hides
    // the script's output, so what the user sees is what reached the terminal: `script` gives it a real pty.
    const command = `npm rebuild scalingo-tcp --prefix ${JSON.stringify(dir)} --foreground-scripts=false`
    const {stdout} = await execFileP('script', ['-qec', command, '/dev/null'], {
      cwd: dir,
      env: {...process.env, ...npmEnv(), CC: 'false', CXX: 'false'},
      timeout: 120_000,
    })
    const seen = stdout.replaceAll('\r', '')
    expect(seen).to.include('scalingo-tcp: the native relay was not built (no prebuilt relay for linux-x64')
    expect(seen).to.include('npm rebuild -g scalingo-tcp')
    expect(existsSync(join(installed, 'build', 'Release', 'relay.node'))).to.equal(false)
  })

  it('installs no got (it ships as its bundle) and still talks to the API: env -a APP against the fake platform', async () => {
    const manifest = JSON.parse(readFileSync(join(installed, 'package.json'), 'utf8'))
    expect(Object.keys(manifest.dependencies)).not.to.include('got')
    expect(existsSync(join(dir, 'node_modules', 'got'))).to.equal(false)
    expect(existsSync(join(installed, 'dist', 'vendor', 'got.cjs'))).to.equal(true)
    const fake = new FakeScalingo()
    await fake.start()
    try {
      const token = 'tk-us-package-test-token-0123456789'
      fake.addUser(token)
      fake.addApp('packed-app', {variables: {TCP_URL: 'tcp://tcp-1.osc-fr1.scalingo.com:30001'}})
      const home = mkdtempSync(join(dir, 'home-'))
      const {stdout} = await execFileP(
        process.execPath,
        [join(installed, 'bin', 'run.js'), 'env', '-a', 'packed-app'],
        {
          cwd: home,
          env: {...baseEnv(), ...fake.env(), HOME: home, SCALINGO_API_TOKEN: token},
          timeout: 30_000,
        },
      )
      expect(stdout).to.equal('TCP_URL=tcp://tcp-1.osc-fr1.scalingo.com:30001\n')
    } finally {
      await fake.stop()
    }
  })

  it("names the fallback, why and the fix in tcp:proxy's first line", async () => {
    // Runs after the prebuild was removed above: this copy has no relay at all.
    const app = mkdtempSync(join(dir, 'app-'))
    writeFileSync(join(app, 'Procfile'), `tcp: node ${join(SERVERS, 'echo-server.mjs')}\n`)
    const child = spawn(process.execPath, [join(installed, 'bin', 'run.js'), 'tcp:proxy', '--port', '0'], {
      cwd: app,
      env: baseEnv(),
    })
    let output = ''
    const line = await new Promise<string>((resolve, reject) => {
      const seen = (chunk: Buffer) => {
        output += chunk.toString()
        const found = output.split('\n').find((l) => l.includes('listening on'))
        if (found) resolve(found)
      }
      child.stdout.on('data', seen)
      child.stderr.on('data', seen)
      child.on('exit', () => reject(new Error(`tcp:proxy exited before listening:\n${output}`)))
    })
    const exited = new Promise((resolve) => child.on('exit', resolve))
    child.kill('SIGINT')
    expect(await exited).to.equal(0)
    expect(line).to.include('(net.Socket transport: no relay was built and no prebuilt one fits linux-x64')
    expect(line).to.include('npm rebuild -g scalingo-tcp')
  })
})
