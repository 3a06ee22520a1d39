import {expect} from 'chai'
import {rmSync} from 'node:fs'
import {join} from 'node:path'

import {connectToLocalGateway, waitForLocalOperation} from '../../../src/lib/control/client.js'
import {ProxyProcess, SERVERS, makeApp} from '../../support/proxy.js'
import {exchange} from '../../support/sockets.js'

const echo = `node ${join(SERVERS, 'echo-server.mjs')}`

describe('control interface of a real tcp:proxy', function () {
  this.timeout(30_000)
  let dir: string
  let proxy: ProxyProcess

  before(async () => {
    dir = makeApp(`tcp: ${echo}\n`)
    proxy = ProxyProcess.start(['--app', 'ctl-app', '--grace', '5s'], {cwd: dir})
    await proxy.waitForEvent('control-listening')
  })

  after(async () => {
    await proxy.cleanup()
    rmSync(dir, {recursive: true, force: true})
  })

  it('reports the status of the running instances', async () => {
    const gateway = await connectToLocalGateway({cwd: dir})
    const status = await gateway.status()
    expect(status.app).to.equal('ctl-app')
    expect(status.tcpUrl).to.equal(`tcp://127.0.0.1:${await proxy.port()}`)
    const tcp1 = status.instances.find((i) => i.name === 'tcp-1')
    expect(tcp1).to.include({type: 'tcp', state: 'ready', generation: 1})
  })

  it('performs a rolling restart followed as an operation until done, then serves from the new generation', async () => {
    const gateway = await connectToLocalGateway({cwd: dir})
    const {operationId} = await gateway.restart()
    expect(operationId).to.match(/^[0-9a-f-]{36}$/)
    const operation = await waitForLocalOperation(gateway, operationId, {
      timeoutMs: 20_000,
      intervalMs: 50,
      what: 'the restart',
      checkLater: 'status',
    })
    expect(operation.status, operation.error).to.equal('done')
    expect(operation.report?.restarted).to.deep.equal(['tcp-1'])
    expect(operation.finished_at).to.be.a('string')

    const status = await gateway.status()
    expect(
      status.instances.filter((i) => i.name === 'tcp-1' && i.state === 'ready').map((i) => i.generation),
    ).to.deep.equal([2])
    expect(await exchange(await proxy.port(), 'after restart\n')).to.equal('after restart\n')
  })
})
