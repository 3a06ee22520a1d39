import {expect} from 'chai'
import {mkdirSync, rmSync} from 'node:fs'
import {createServer as createHttpServer} from 'node:http'
import {createServer, type Server} from 'node:net'
import {join} from 'node:path'

import {commandRef} from '../../../src/lib/command-line.js'
import {connectToLocalGateway} from '../../../src/lib/control/client.js'
import {type LocalControl, startLocalControl} from '../../../src/lib/control/local-control.js'
import {STATE_FILE_NAME} from '../../../src/lib/contract.js'
import {writeStateFile} from '../../../src/lib/control/state-file.js'
import {CliError} from '../../../src/lib/errors.js'
import {FakeTarget, report} from './fake-target.js'
import {runCli, unwrapAll} from '../../support/cli.js'
import {emptyAppRoot} from '../../support/proxy.js'

async function rejection(promise: Promise<unknown>): Promise<CliError> {
  try {
    await promise
  } catch (error) {
    expect(error).to.be.instanceOf(CliError)
    return error as CliError
  }

  throw new Error('expected a rejection')
}

describe('local gateway client', () => {
  let dir: string
  let target: FakeTarget
  let control: LocalControl | undefined
  let closedPort: Server | undefined

  beforeEach(() => {
    dir = emptyAppRoot('scalingo-tcp-client-')
    target = new FakeTarget()
  })

  afterEach(async () => {
    for (const restart of target.restarts) restart.resolve(report())
    await control?.close()
    control = undefined
    closedPort?.close()
    rmSync(dir, {recursive: true, force: true})
  })

  it('startLocalControl writes the state file pointing at the control interface', async () => {
    control = await startLocalControl(target, {dir, version: '9.9.9'})
    expect(control.stateFile?.path).to.equal(join(dir, STATE_FILE_NAME))
    const client = await connectToLocalGateway({cwd: dir})
    expect(client.dir).to.equal(dir)
    expect(client.state).to.include({
      pid: process.pid,
      url: control.url,
      token: control.server.token,
      tcpUrl: 'tcp://127.0.0.1:20003',
      app: 'my-app',
      version: '9.9.9',
    })
    expect(control.url).to.not.include(control.server.token)
  })

  it('reads the status, the environment, and follows a restart to its end', async () => {
    control = await startLocalControl(target, {dir, version: '0.1.0'})
    const sub = join(dir, 'lib')
    mkdirSync(sub)
    const client = await connectToLocalGateway({cwd: sub})
    expect(await client.status()).to.deep.equal(target.status())
    expect((await client.env('tcp')).map((v) => v.name)).to.deep.equal(['CONTAINER', 'GREETING', 'TCP_URL'])

    const {operationId} = await client.restart()
    await target.restartStarted(1)
    expect(await client.operation(operationId)).to.include({id: operationId, type: 'restart', status: 'running'})
    target.restarts[0].resolve(report())
    await new Promise(setImmediate)
    expect((await client.operation(operationId)).status).to.equal('done')
  })

  it('says no gateway is running (exit 1) when there is no state file', async () => {
    const error = await rejection(connectToLocalGateway({cwd: dir}))
    expect(error.message).to.equal(`No local gateway is running in ${dir}.`)
    expect(error.exitCode).to.equal(1)
    expect(error.suggestions).to.deep.equal([`Start one with: ${commandRef('tcp:proxy')}`])
  })

  it('says no gateway is running when the pid is alive but nothing listens any more', async () => {
    closedPort = createServer()
    await new Promise<void>((resolve) => closedPort!.listen(0, '127.0.0.1', resolve))
    const {port} = closedPort.address() as {port: number}
    await new Promise<void>((resolve) => closedPort!.close(() => resolve()))
    closedPort = undefined
    const handle = writeStateFile(dir, {
      pid: process.pid,
      url: `http://127.0.0.1:${port}`,
      token: 't',
      tcpUrl: 'tcp://x:1',
      app: 'a',
      startedAt: '',
      version: '',
    })
    try {
      const client = await connectToLocalGateway({cwd: dir})
      const error = await rejection(client.status())
      expect(error.message).to.equal(`No local gateway is running in ${dir}.`)
    } finally {
      handle.remove()
    }
  })

  it('explains a refused token', async () => {
    control = await startLocalControl(target, {dir, version: '0.1.0'})
    const other = writeStateFile(dir, {...(await connectToLocalGateway({cwd: dir})).state, token: 'not-the-token'})
    try {
      const client = await connectToLocalGateway({cwd: dir})
      const error = await rejection(client.status())
      expect(error.message).to.match(/refused the token/)
      expect(error.message).to.not.include('not-the-token')
    } finally {
      other.remove()
    }
  })

  describe("what answers at the state file's URL is not trusted", () => {
    let written = 0
    let answer: 'huge' | 'not-json' | 'no-field' | 'not-http' = 'huge'
    let server: Server
    let state: ReturnType<typeof writeStateFile>

    beforeEach(async () => {
      written = 0
      const http = createHttpServer((req, res) => {
        if (answer === 'not-http') return
        // one connection per request, so a 'not-http' answer comes on a connection of its own
        res.setHeader('Connection', 'close')
        if (answer === 'not-json') {
          res.end('<html>not a gateway</html>')
        } else if (answer === 'no-field') {
          res.setHeader('Content-Type', 'application/json')
          res.end('{"hello": "world", "variables": [{"name": 1}]}')
        } else {
          // 100 MB, as fast as the client reads it, until the client goes away
          res.setHeader('Content-Type', 'application/json')
          const chunk = Buffer.alloc(1024 * 1024, 0x20)
          const more = () => {
            while (written < 100 * 1024 * 1024 && !res.destroyed) {
              written += chunk.length
              if (!res.write(chunk)) return void res.once('drain', more)
            }

            res.end()
          }

          res.write('{"status": "')
          more()
        }
      })
      http.on('connection', (socket) => {
        if (answer === 'not-http') socket.end('SSH-2.0-OpenSSH_9.6\r\n\0\0garbage\r\n\r\n')
      })
      server = http as unknown as Server
      await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve))
      const {port} = http.address() as {port: number}
      state = writeStateFile(dir, {
        pid: process.pid,
        url: `http://127.0.0.1:${port}`,
        token: 't',
        tcpUrl: 'tcp://x:1',
        app: 'a',
        startedAt: '',
        version: '',
      })
    })

    afterEach(async () => {
      state.remove()
      const http = server as unknown as ReturnType<typeof createHttpServer>
      http.closeAllConnections()
      await new Promise<void>((resolve) => http.close(() => resolve()))
    })

    it('stops reading an answer larger than 8 MB and says what answered is not a local gateway', async function () {
      this.timeout(60_000)
      answer = 'huge'
      const client = await connectToLocalGateway({cwd: dir})
      const error = await rejection(client.env('tcp'))
      expect(error.message).to.equal(
        `What answers at the control URL in ${join(dir, STATE_FILE_NAME)} is not a local gateway: an answer larger than 8 MB.`,
      )
      // Bounded: the client hung up long before the 100 MB (what is in flight in socket buffers aside).
      expect(written).to.be.below(40 * 1024 * 1024)
    })

    it('a body that is not JSON, JSON without the expected fields, or something that is not HTTP: a clear error', async () => {
      const expected: Record<string, string> = {
        'not-json': 'an answer that is not a JSON object',
        'no-field': 'an answer without a valid "variables"',
        'not-http': 'Parse Error',
      }
      for (const kind of ['not-json', 'no-field', 'not-http'] as const) {
        answer = kind
        const client = await connectToLocalGateway({cwd: dir})
        const error = await rejection(client.env('tcp'))
        expect(error.message, error.message).to.include(
          `What answers at the control URL in ${join(dir, STATE_FILE_NAME)} is not a local gateway: ${expected[kind]}`,
        )
        if (kind === 'no-field')
          expect((await rejection(client.status())).message).to.include('an answer without a valid "status"')
      }
    })

    it('env --local and addons:tcp:info --local exit 1 with that message, no stack trace', async function () {
      this.timeout(60_000)
      for (const kind of ['huge', 'no-field'] as const) {
        answer = kind
        for (const args of [
          ['env', '--local'],
          ['addons:tcp:info', '--local'],
        ]) {
          const run = await runCli(args, {cwd: dir})
          expect(run.code, `${kind} ${args.join(' ')}: ${run.stderr}`).to.equal(1)
          expect(run.stdout).to.equal('')
          expect(unwrapAll(run.stderr)).to.include('is not a local gateway')
          expect(run.stderr).to.not.match(/\n\s+at |RangeError|TypeError/)
        }
      }
    })
  })
})
