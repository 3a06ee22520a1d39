import {runCommand} from '@oclif/test'
import {expect} from 'chai'

import {ROOT, unwrap} from '../../../support/cli.js'
import {TCP_GATEWAY_PLAN} from '../../../support/fake-scalingo.js'
import {Harness} from '../../../support/platform.js'

describe('addons:tcp:info', () => {
  const h = new Harness()
  let addonId: string

  before(async () => {
    await h.start()
    h.fake.addApp('my-app')
    h.fake.setFormation('my-app', [
      {name: 'web', amount: 1},
      {name: 'tcp', amount: 2, size: 'L'},
    ])
    addonId = h.fake.addTcpAddon('my-app', {tcpUrl: 'tcp://tcp-1.osc-fr1.scalingo.com:20042'}).id
    h.fake.addApp('bare-app')
    h.fake.addApp('idle-app')
    h.fake.setFormation('idle-app', [{name: 'tcp', amount: 0}])
    h.fake.addTcpAddon('idle-app', {status: 'provisioning', tcpUrl: null})
  })

  after(() => h.stop())
  afterEach(() => h.fake.clearFailures())

  it('prints the addon, TCP_URL with host and port, and the tcp containers in the === / Key: value style', async () => {
    const result = await h.cli(['addons:tcp:info', '-a', 'my-app'])
    expect(result.code, result.stderr).to.equal(0)
    expect(result.stderr).to.equal('')
    const lines = result.stdout.split('\n')
    expect(lines[0]).to.equal('=== TCP Gateway addon of my-app')
    expect(lines).to.include(`Addon:       ${addonId}`)
    expect(lines).to.include('Plan:        tcplb (TCP Gateway)')
    expect(lines).to.include('Status:      running')
    expect(lines).to.include('Provisioned: 2026-08-20T10:00:00.000+02:00')
    expect(lines).to.include('TCP_URL:     tcp://tcp-1.osc-fr1.scalingo.com:20042')
    expect(lines).to.include('Host:        tcp-1.osc-fr1.scalingo.com')
    expect(lines).to.include('Port:        20042')
    expect(lines).to.include('Formation:   tcp:2:L')
    expect(result.stdout).to.include('=== tcp containers\nName   State    Size\ntcp-1  running  L\ntcp-2  running  L\n')
    expect(result.stdout).to.not.include('web-1')
  })

  it('prints --json with the documented shape', async () => {
    const result = await h.cli(['addons:tcp:info', '-a', 'my-app', '--json'])
    expect(result.code, result.stderr).to.equal(0)
    expect(JSON.parse(result.stdout)).to.deep.equal({
      app: 'my-app',
      addon: {
        id: addonId,
        provider: 'tcp-gateway',
        plan: 'tcplb',
        planDisplayName: 'TCP Gateway',
        status: 'running',
        provisionedAt: '2026-08-20T10:00:00.000+02:00',
      },
      tcpUrl: 'tcp://tcp-1.osc-fr1.scalingo.com:20042',
      host: 'tcp-1.osc-fr1.scalingo.com',
      port: 20042,
      formation: {amount: 2, size: 'L'},
      containers: [
        {name: 'tcp-1', state: 'running', size: 'L'},
        {name: 'tcp-2', state: 'running', size: 'L'},
      ],
    })
  })

  it('says when TCP_URL is not set yet and no tcp container runs', async () => {
    const result = await h.cli(['addons:tcp:info', '-a', 'idle-app'])
    expect(result.code, result.stderr).to.equal(0)
    expect(result.stdout).to.include('Status:      provisioning')
    expect(result.stdout).to.include('TCP_URL:     not set yet')
    expect(result.stdout).to.not.include('Host:')
    expect(result.stdout).to.include(
      'No tcp container is running: scale it with `scalingo --app idle-app scale tcp:1`.',
    )
  })

  it('exits 4 with a clear message when the app has no TCP Gateway addon', async () => {
    const result = await h.cli(['addons:tcp:info', '-a', 'bare-app'])
    expect(result.code).to.equal(4)
    expect(result.stdout).to.equal('')
    expect(unwrap(result.stderr)).to.include('App bare-app has no TCP Gateway addon.')
    expect(unwrap(result.stderr)).to.include('scalingo-tcp addons:tcp:create -a bare-app')
    const json = await h.cli(['addons:tcp:info', '-a', 'bare-app', '--json'])
    expect(json.code).to.equal(4)
    expect(JSON.parse(json.stdout).error).to.include({code: 'NOT_FOUND', exitCode: 4})
  })

  it('follows the foundation mapping: 404 app exits 4, 401 exits 3, a 500 exits 1 after retries', async () => {
    const missing = await h.cli(['addons:tcp:info', '-a', 'nope'])
    expect(missing.code).to.equal(4)
    expect(unwrap(missing.stderr)).to.include("App 'nope' not found")
    const unauthorized = await h.cli(['addons:tcp:info', '-a', 'my-app'], {env: {SCALINGO_API_TOKEN: 'tk-us-wrong'}})
    expect(unauthorized.code).to.equal(3)
    h.fake.failNext('/v1/apps/my-app/addons', {status: 500, times: Infinity})
    const failing = await h.cli(['addons:tcp:info', '-a', 'my-app'])
    expect(failing.code).to.equal(1)
    expect(unwrap(failing.stderr)).to.include('HTTP 500')
  })

  it('works in-process and returns the typed result', async () => {
    const saved = {...process.env}
    Object.assign(process.env, h.env())
    try {
      const {result, error} = await runCommand<{plan: string; addon: {plan: string}}>(
        ['addons:tcp:info', '-a', 'my-app', '--json'],
        {root: ROOT},
      )
      expect(error).to.equal(undefined)
      expect(result?.addon.plan).to.equal(TCP_GATEWAY_PLAN.name)
    } finally {
      process.env = saved
    }
  })
})
