import {expect} from 'chai'
import {mkdirSync, mkdtempSync, rmSync} from 'node:fs'
import {createServer, type Server} from 'node:net'
import {tmpdir} from 'node:os'
import {join} from 'node:path'

import {connectToLocalGateway} from '../../../src/lib/control/client.js'
import {type LocalControl, startLocalControl} from '../../../src/lib/control/local-control.js'
import {STATE_FILE_NAME, writeStateFile} from '../../../src/lib/control/state-file.js'
import {CliError} from '../../../src/lib/errors.js'
import {FakeTarget, report} from './fake-target.js'
import {emptyAppRoot} from '../../helpers/proxy.js'

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
    expect(client.state).to.include({pid: process.pid, url: control.url, token: control.server.token, tcpUrl: 'tcp://127.0.0.1:20003', app: 'my-app', version: '9.9.9'})
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
    expect(error.suggestions).to.deep.equal(['Start one with: scalingo-tcp tcp:proxy'])
  })

  it('says no gateway is running when the pid is alive but nothing listens any more', async () => {
    closedPort = createServer()
    await new Promise<void>((resolve) => closedPort!.listen(0, '127.0.0.1', resolve))
    const {port} = closedPort.address() as {port: number}
    await new Promise<void>((resolve) => closedPort!.close(() => resolve()))
    closedPort = undefined
    const handle = writeStateFile(dir, {pid: process.pid, url: `http://127.0.0.1:${port}`, token: 't', tcpUrl: 'tcp://x:1', app: 'a', startedAt: '', version: ''})
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
})
