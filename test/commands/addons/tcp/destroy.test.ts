import {expect} from 'chai'

import {unwrap} from '../../../support/cli.js'
import {Harness} from '../../../support/platform.js'

describe('addons:tcp:destroy', () => {
  const h = new Harness()
  let n = 0
  const appWithAddon = () => {
    const name = `gone-${++n}`
    h.fake.addApp(name, {variables: {OTHER: 'kept'}})
    const addon = h.fake.addTcpAddon(name, {tcpUrl: 'tcp://tcp-1.osc-fr1.scalingo.com:20077'})
    return {name, addon}
  }

  before(() => h.start())
  after(() => h.stop())
  afterEach(() => h.fake.clearFailures())

  it('removes the addon with --confirm APP, warning that TCP_URL goes away', async () => {
    const {name, addon} = appWithAddon()
    const result = await h.cli(['addons:tcp:destroy', '-a', name, '--confirm', name])
    expect(result.code, result.stderr).to.equal(0)
    expect(result.stdout).to.equal('')
    expect(h.fake.requestsTo('DELETE', `/v1/apps/${name}/addons/${addon.id}`)).to.have.length(1)
    expect(h.fake.app(name).addons).to.have.length(0)
    expect(h.fake.app(name).variables.map((v) => v.name)).to.deep.equal(['OTHER'])
    const stderr = unwrap(result.stderr)
    expect(stderr).to.include(
      `Warning: This removes the TCP Gateway addon ${addon.id} of ${name}: TCP_URL (tcp://tcp-1.osc-fr1.scalingo.com:20077) goes away`,
    )
    expect(stderr).to.include(`Removed the TCP Gateway addon ${addon.id} of ${name}`)
  })

  it('prints --json with the documented shape', async () => {
    const {name, addon} = appWithAddon()
    const result = await h.cli(['addons:tcp:destroy', '-a', name, '--confirm', name, '--json'])
    expect(result.code, result.stderr).to.equal(0)
    expect(result.stderr).to.equal('')
    expect(JSON.parse(result.stdout)).to.deep.equal({
      app: name,
      addon: {
        id: addon.id,
        provider: 'tcp-gateway',
        plan: 'tcplb',
        planDisplayName: 'TCP Gateway',
        status: 'running',
        provisionedAt: addon.provisioned_at,
      },
      tcpUrl: 'tcp://tcp-1.osc-fr1.scalingo.com:20077',
      destroyed: true,
    })
  })

  it('refuses with exit 1 when --confirm does not match, and removes nothing', async () => {
    const {name} = appWithAddon()
    const result = await h.cli(['addons:tcp:destroy', '-a', name, '--confirm', 'other-app'])
    expect(result.code).to.equal(1)
    expect(unwrap(result.stderr)).to.include(
      `Confirmation 'other-app' does not match the app name ${name}: nothing was removed.`,
    )
    expect(h.fake.requestsTo('DELETE', new RegExp(`^/v1/apps/${name}/addons/`))).to.have.length(0)
    expect(h.fake.app(name).addons).to.have.length(1)
  })

  it('without a terminal and without --confirm, exits 2 asking for --confirm', async () => {
    const {name} = appWithAddon()
    const result = await h.cli(['addons:tcp:destroy', '-a', name])
    expect(result.code).to.equal(2)
    expect(unwrap(result.stderr)).to.include(`scalingo-tcp addons:tcp:destroy -a ${name} --confirm ${name}`)
    expect(h.fake.app(name).addons).to.have.length(1)
  })

  it('exits 4 when the app has no TCP Gateway addon', async () => {
    h.fake.addApp('no-addon')
    const result = await h.cli(['addons:tcp:destroy', '-a', 'no-addon', '--confirm', 'no-addon'])
    expect(result.code).to.equal(4)
    expect(unwrap(result.stderr)).to.include('App no-addon has no TCP Gateway addon.')
  })

  it("shows the platform's message when the removal is refused", async () => {
    const {name, addon} = appWithAddon()
    h.fake.failNext(`/v1/apps/${name}/addons/${addon.id}`, {
      status: 403,
      body: {error: 'Only the owner can remove addons'},
    })
    const result = await h.cli(['addons:tcp:destroy', '-a', name, '--confirm', name])
    expect(result.code).to.equal(1)
    expect(unwrap(result.stderr)).to.include('Only the owner can remove addons')
  })

  it('on a terminal: removes the addon once the app name is typed', async () => {
    const {name} = appWithAddon()
    const result = await h.pty(
      ['addons:tcp:destroy', '-a', name],
      [{waitFor: `Type the app name (${name}) to confirm`, keys: `${name}\r`}],
    )
    expect(result.code, result.output).to.equal(0)
    expect(result.output).to.include('TCP_URL (tcp://tcp-1.osc-fr1.scalingo.com:20077) goes away')
    expect(h.fake.app(name).addons).to.have.length(0)
  })

  it('on a terminal: a mistyped name exits 1 and removes nothing', async () => {
    const {name} = appWithAddon()
    const result = await h.pty(['addons:tcp:destroy', '-a', name], [{waitFor: 'to confirm', keys: 'wrong\r'}])
    expect(result.code, result.output).to.equal(1)
    expect(result.output).to.include(`Confirmation 'wrong' does not match the app name ${name}`)
    expect(h.fake.app(name).addons).to.have.length(1)
  })

  it('on a terminal: Ctrl-C at the prompt exits 130 and removes nothing', async () => {
    const {name} = appWithAddon()
    const result = await h.pty(['addons:tcp:destroy', '-a', name], [{waitFor: 'to confirm', keys: '\u0003'}])
    expect(result.code, result.output).to.equal(130)
    expect(h.fake.requestsTo('DELETE', new RegExp(`^/v1/apps/${name}/addons/`))).to.have.length(0)
    expect(h.fake.app(name).addons).to.have.length(1)
  })
})
