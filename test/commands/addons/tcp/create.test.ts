import {expect} from 'chai'
import {execFile} from 'node:child_process'
import {writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {promisify} from 'node:util'

import AddonsTcpCreate from '../../../../src/commands/addons/tcp/create.js'
import AddonsTcpRestart from '../../../../src/commands/addons/tcp/restart.js'
import {parseDuration} from '../../../../src/lib/duration.js'
import {baseEnv, BIN, unwrap} from '../../../support/cli.js'
import {fakePlan, TCP_GATEWAY_PLAN} from '../../../support/fake-scalingo.js'
import {Harness} from '../../../support/platform.js'

const URL_LINE = /^tcp:\/\/tcp-1\.osc-fr1\.scalingo\.com:200\d\d\n$/

describe('addons:tcp:create', () => {
  const h = new Harness()
  let n = 0
  /** A fresh app per test: the addon it gets stays. */
  const newApp = (
    formation: Array<{name: string; amount: number}> = [
      {name: 'web', amount: 1},
      {name: 'tcp', amount: 0},
    ],
  ) => {
    const name = `app-${++n}`
    h.fake.addApp(name)
    h.fake.setFormation(name, formation)
    return name
  }

  before(() => h.start())
  after(() => h.stop())
  afterEach(() => {
    h.fake.clearFailures()
    h.fake.addonBehaviour = {pollsUntilRunning: 2, setsTcpUrl: true, response: 'full'}
    h.fake.setPlans('tcp-gateway', [TCP_GATEWAY_PLAN])
    h.fake.operationStatuses = {}
    h.fake.scaleWithoutOperation = false
  })

  it('provisions with the looked-up plan id, waits for running + TCP_URL, prints only TCP_URL on stdout', async () => {
    const app = newApp()
    const result = await h.cli(['addons:tcp:create', '-a', app])
    expect(result.code, result.stderr).to.equal(0)
    expect(result.stdout).to.match(URL_LINE)
    const [post] = h.fake.requestsTo('POST', `/v1/apps/${app}/addons`)
    expect(JSON.parse(post.body)).to.deep.equal({
      addon: {addon_provider_id: 'tcp-gateway', plan_id: TCP_GATEWAY_PLAN.id},
    })
    expect(h.fake.requestsTo('GET', '/v1/addon_providers/tcp-gateway/plans')).to.have.length.at.least(1)
    const addon = h.fake.app(app).addons[0]
    expect(addon.status).to.equal('running')
    expect(h.fake.requestsTo('GET', `/v1/apps/${app}/addons/${addon.id}`)).to.have.length(3)
    const stderr = unwrap(result.stderr)
    expect(stderr).to.include(`Provisioning the TCP Gateway addon (plan tcplb) on ${app}`)
    expect(stderr).to.include(`Waiting for the TCP Gateway addon of ${app}: provisioning`)
    expect(stderr).to.include(`TCP Gateway addon ${addon.id} is running on ${app}`)
    expect(stderr).to.include(
      `Warning: The tcp process type of ${app} is scaled to 0, so nothing answers on TCP_URL: scale it with \`scalingo --app ${app} scale tcp:1\``,
    )
    const port = result.stdout.trim().split(':').pop()
    expect(stderr).to.include(
      `=== TCP Gateway addon of ${app}\nAddon:     ${addon.id}\nPlan:      tcplb (TCP Gateway)\nStatus:    running\nHost:      tcp-1.osc-fr1.scalingo.com\nPort:      ${port}\nFormation: tcp:0\n`,
    )
    expect(stderr).to.include(`Your tcp process must listen on $PORT, not on port ${port}`)
    expect(h.fake.requestsTo('POST', `/v1/apps/${app}/scale`)).to.have.length(0)
  })

  it('works with `URL=$(...)` in a real shell', async () => {
    const app = newApp()
    // async: the fake platform lives in this process and must keep answering
    const shell = await promisify(execFile)(
      '/bin/sh',
      ['-c', `URL=$("${process.execPath}" "${BIN}" addons:tcp:create -a ${app} 2>/dev/null); printf '[%s]' "$URL"`],
      {
        encoding: 'utf8',
        env: {...baseEnv(), ...(h.env() as Record<string, string>)},
      },
    )
    expect(shell.stdout).to.match(/^\[tcp:\/\/tcp-1\.osc-fr1\.scalingo\.com:200\d\d\]$/)
  })

  it('--scale N scales tcp from 0, waits for the scale operation, and --json gives the documented shape', async () => {
    const app = newApp()
    const result = await h.cli(['addons:tcp:create', '-a', app, '--scale', '2', '--json'])
    expect(result.code, result.stderr).to.equal(0)
    expect(result.stderr).to.equal('')
    const body = JSON.parse(result.stdout)
    const addon = h.fake.app(app).addons[0]
    const tcpUrl = h.fake.app(app).variables.find((v) => v.name === 'TCP_URL')!.value
    expect(body).to.deep.equal({
      app,
      addon: {
        id: addon.id,
        provider: 'tcp-gateway',
        plan: 'tcplb',
        planDisplayName: 'TCP Gateway',
        status: 'running',
        provisionedAt: addon.provisioned_at,
      },
      tcpUrl,
      host: 'tcp-1.osc-fr1.scalingo.com',
      port: Number(tcpUrl.split(':').pop()),
      message: 'Your TCP gateway is being provisioned.',
      waited: true,
      formation: {hasTcpType: true, amount: 2, scaledTo: 2},
      warnings: [],
    })
    const [scale] = h.fake.requestsTo('POST', `/v1/apps/${app}/scale`)
    expect(JSON.parse(scale.body)).to.deep.equal({containers: [{name: 'tcp', amount: 2}]})
    const operation = h.fake.app(app).operations[0]
    expect(operation).to.include({type: 'scale', status: 'done'})
    expect(h.fake.requestsTo('GET', `/v1/apps/${app}/operations/${operation.id}`)).to.have.length(3)
  })

  it('scales without waiting when the platform answers 200 with no operation', async () => {
    h.fake.scaleWithoutOperation = true
    const app = newApp()
    const result = await h.cli(['addons:tcp:create', '-a', app, '--scale', '1'])
    expect(result.code, result.stderr).to.equal(0)
    expect(result.stderr).to.include(`Scaled tcp to 1 on ${app}`)
    expect(h.fake.app(app).formation.find((f) => f.name === 'tcp')!.amount).to.equal(1)
  })

  it('exits 1 with the operation error when scaling fails', async () => {
    h.fake.operationStatuses.scale = ['pending', 'error']
    const app = newApp()
    const result = await h.cli(['addons:tcp:create', '-a', app, '--scale', '1'])
    expect(result.code).to.equal(1)
    expect(unwrap(result.stderr)).to.include('Scaling tcp to 1 failed on Scalingo: container tcp-1 failed to restart.')
  })

  it('--scale leaves a tcp type that already runs containers as it is, with a warning', async () => {
    const app = newApp([{name: 'tcp', amount: 2}])
    const result = await h.cli(['addons:tcp:create', '-a', app, '--scale', '1', '--json'])
    expect(result.code, result.stderr).to.equal(0)
    const body = JSON.parse(result.stdout)
    expect(body.formation).to.deep.equal({hasTcpType: true, amount: 2, scaledTo: null})
    expect(body.warnings).to.deep.equal([
      `The tcp process type of ${app} already runs 2 container(s): --scale 1 left it as it is (scale it with \`scalingo --app ${app} scale tcp:1\`).`,
    ])
    expect(h.fake.requestsTo('POST', `/v1/apps/${app}/scale`)).to.have.length(0)
    expect(h.fake.app(app).formation.find((f) => f.name === 'tcp')!.amount).to.equal(2)
  })

  it('exits 130 on Ctrl-C while waiting for the scale operation, saying it goes on', async () => {
    h.fake.operationStatuses.scale = ['pending', 'running']
    const app = newApp()
    const result = await h.interrupt(
      ['addons:tcp:create', '-a', app, '--scale', '1'],
      new RegExp(`Scaling tcp to 1 on ${app}: running`),
    )
    expect(result.sawPattern, result.stderr).to.equal(true)
    expect(result.code).to.equal(130)
    const stderr = unwrap(result.stderr)
    expect(stderr).to.include('Interrupted while waiting for tcp to be scaled to 1.')
    expect(stderr).to.include(
      `The platform carries on: check its state with \`scalingo-tcp addons:tcp:info -a ${app}\``,
    )
  })

  it('rides out a 429 while polling: the client backs off and the wait goes on', async () => {
    const app = newApp([{name: 'tcp', amount: 1}])
    const addonPoll = (r: {method: string; path: string}) =>
      r.method === 'GET' && r.path.startsWith(`/v1/apps/${app}/addons/`)
    h.fake.failNext(addonPoll, {status: 429, body: 'Retry later', times: 2})
    const result = await h.cli(['addons:tcp:create', '-a', app])
    expect(result.code, result.stderr).to.equal(0)
    expect(result.stdout).to.match(URL_LINE)
    expect(
      h.fake.requests
        .filter(addonPoll)
        .map((r) => r.status)
        .slice(0, 2),
    ).to.deep.equal([429, 429])
  })

  it('refuses with exit 1, pointing at addons:tcp:info, when the app already has the addon', async () => {
    const app = newApp()
    const existing = h.fake.addTcpAddon(app)
    const result = await h.cli(['addons:tcp:create', '-a', app])
    expect(result.code).to.equal(1)
    expect(result.stdout).to.equal('')
    const stderr = unwrap(result.stderr)
    expect(stderr).to.include(`App ${app} already has a TCP Gateway addon (${existing.id}, plan tcplb).`)
    expect(stderr).to.include(`scalingo-tcp addons:tcp:info -a ${app}`)
    expect(h.fake.requestsTo('POST', `/v1/apps/${app}/addons`)).to.have.length(0)
    const json = await h.cli(['addons:tcp:create', '-a', app, '--json'])
    expect(JSON.parse(json.stdout).error).to.include({code: 'ALREADY_EXISTS', exitCode: 1})
  })

  it('resolves --plan by name among several plans, and rejects an unknown one listing the plans', async () => {
    const big = fakePlan('tcplb-xl', {display_name: 'TCP Gateway XL', price: 30})
    h.fake.setPlans('tcp-gateway', [TCP_GATEWAY_PLAN, big])
    const app = newApp()
    const result = await h.cli(['addons:tcp:create', '-a', app, '--plan', 'tcplb-xl'])
    expect(result.code, result.stderr).to.equal(0)
    expect(JSON.parse(h.fake.requestsTo('POST', `/v1/apps/${app}/addons`)[0].body).addon.plan_id).to.equal(big.id)
    const unknown = await h.cli(['addons:tcp:create', '-a', newApp(), '--plan', 'huge'])
    expect(unknown.code).to.equal(2)
    expect(unwrap(unknown.stderr)).to.include("The TCP Gateway has no plan named 'huge'.")
    expect(unwrap(unknown.stderr)).to.include('tcplb - TCP Gateway (free), tcplb-xl - TCP Gateway XL (price 30)')
  })

  it('without a TTY and several plans, takes tcplb without asking', async () => {
    h.fake.setPlans('tcp-gateway', [fakePlan('tcplb-xl'), TCP_GATEWAY_PLAN])
    const app = newApp()
    const result = await h.cli(['addons:tcp:create', '-a', app])
    expect(result.code, result.stderr).to.equal(0)
    expect(JSON.parse(h.fake.requestsTo('POST', `/v1/apps/${app}/addons`)[0].body).addon.plan_id).to.equal(
      TCP_GATEWAY_PLAN.id,
    )
    expect(result.stderr).to.not.include('Which TCP Gateway plan')
  })

  it('warns that the Procfile needs a tcp: line, quoting the local Procfile when it has one', async () => {
    const cwd = h.tempDir('procfile')
    writeFileSync(join(cwd, 'Procfile'), 'web: npm start\ntcp: node tcp-server.js\n')
    const app = newApp([{name: 'web', amount: 1}])
    const result = await h.cli(['addons:tcp:create', '-a', app, '--scale', '1'], {cwd})
    expect(result.code, result.stderr).to.equal(0)
    expect(result.stdout).to.match(URL_LINE)
    expect(unwrap(result.stderr)).to.include(
      `Warning: App ${app} has no tcp process type yet: deploy the \`tcp:\` line of your local Procfile (\`tcp: node tcp-server.js\`), then scale it with \`scalingo --app ${app} scale tcp:1\`.`,
    )
    expect(h.fake.requestsTo('POST', `/v1/apps/${app}/scale`)).to.have.length(0)
    const bare = await h.cli(['addons:tcp:create', '-a', newApp([{name: 'web', amount: 1}]), '--json'], {
      cwd: h.tempDir('empty'),
    })
    const body = JSON.parse(bare.stdout)
    expect(body.formation).to.deep.equal({hasTcpType: false, amount: null, scaledTo: null})
    expect(body.warnings[0]).to.include(
      'add a `tcp:` line to the Procfile (e.g. `tcp: node server.js`, listening on $PORT) and deploy',
    )
  })

  it('--no-wait returns after provisioning without polling the addon', async () => {
    const app = newApp([{name: 'tcp', amount: 1}])
    const result = await h.cli(['addons:tcp:create', '-a', app, '--no-wait', '--json'])
    expect(result.code, result.stderr).to.equal(0)
    const body = JSON.parse(result.stdout)
    expect(body).to.include({waited: false})
    expect(body.addon.status).to.equal('provisioning')
    expect(body.tcpUrl).to.match(/^tcp:\/\//)
    expect(h.fake.requests.some((r) => r.method === 'GET' && r.path.startsWith(`/v1/apps/${app}/addons/`))).to.equal(
      false,
    )
  })

  for (const response of ['addon', 'empty'] as const) {
    it(`tolerates a provisioning response with ${response === 'empty' ? 'no body' : 'only the addon'}`, async () => {
      h.fake.addonBehaviour.response = response
      h.fake.addonBehaviour.pollsUntilRunning = 0
      const app = newApp([{name: 'tcp', amount: 1}])
      const result = await h.cli(['addons:tcp:create', '-a', app, '--json'])
      expect(result.code, result.stderr).to.equal(0)
      const body = JSON.parse(result.stdout)
      expect(body.addon.id).to.equal(h.fake.app(app).addons[0].id)
      expect(body.message).to.equal(null)
    })
  }

  it('exits 5 after --wait-timeout when the addon stays provisioning, with the command that checks later', async () => {
    h.fake.addonBehaviour.pollsUntilRunning = Infinity
    const app = newApp()
    const result = await h.cli(['addons:tcp:create', '-a', app, '--wait-timeout', '150ms'])
    expect(result.code).to.equal(5)
    expect(result.stdout).to.equal('')
    const stderr = unwrap(result.stderr)
    expect(stderr).to.include(
      'Gave up waiting for the TCP Gateway addon to be running with TCP_URL set after 0.2 s (last status: provisioning).',
    )
    expect(stderr).to.include(`scalingo-tcp addons:tcp:info -a ${app}`)
    const json = await h.cli(['addons:tcp:create', '-a', newApp(), '--wait-timeout', '50ms', '--json'])
    expect(json.code).to.equal(5)
    expect(JSON.parse(json.stdout).error).to.include({code: 'TIMEOUT', exitCode: 5})
  })

  it('waits 5 minutes by default, for create as for restart', () => {
    for (const command of [AddonsTcpCreate, AddonsTcpRestart]) {
      expect(parseDuration(command.flags['wait-timeout'].default as string)).to.equal(5 * 60_000)
    }
  })

  it('waits for TCP_URL even once the addon is running', async () => {
    h.fake.addonBehaviour.setsTcpUrl = false
    const app = newApp()
    const result = await h.cli(['addons:tcp:create', '-a', app, '--wait-timeout', '300ms'])
    expect(result.code).to.equal(5)
    expect(unwrap(result.stderr)).to.include('(last status: running, waiting for TCP_URL)')
  })

  it('exits 130 on Ctrl-C while waiting, saying provisioning goes on and which command shows it', async () => {
    h.fake.addonBehaviour.pollsUntilRunning = Infinity
    const app = newApp()
    const result = await h.interrupt(['addons:tcp:create', '-a', app], /Waiting for the TCP Gateway addon/)
    expect(result.sawPattern, result.stderr).to.equal(true)
    expect(result.code).to.equal(130)
    expect(result.stdout).to.equal('')
    const stderr = unwrap(result.stderr)
    expect(stderr).to.include('Interrupted while waiting for the TCP Gateway addon to be running with TCP_URL set.')
    expect(stderr).to.include(
      `The platform carries on: check its state with \`scalingo-tcp addons:tcp:info -a ${app}\``,
    )
  })

  it("shows the platform's own message on a 402 and a 422", async () => {
    const app = newApp()
    const payment = {
      error: 'You need to add a payment method to use paid addons',
      url: 'https://dashboard.scalingo.com/billing',
    }
    h.fake.failNext((r) => r.method === 'POST' && r.path === `/v1/apps/${app}/addons`, {status: 402, body: payment})
    const refused = await h.cli(['addons:tcp:create', '-a', app])
    expect(refused.code).to.equal(1)
    expect(unwrap(refused.stderr)).to.include('You need to add a payment method to use paid addons')
    expect(unwrap(refused.stderr)).to.include('https://dashboard.scalingo.com/billing')
    h.fake.failNext((r) => r.method === 'POST' && r.path === `/v1/apps/${app}/addons`, {
      status: 422,
      body: {errors: {plan_id: ['is not available in this region']}},
    })
    const invalid = await h.cli(['addons:tcp:create', '-a', app, '--json'])
    expect(invalid.code).to.equal(1)
    const error = JSON.parse(invalid.stdout).error
    expect(error.code).to.equal('VALIDATION')
    expect(error.message).to.include('plan_id: is not available in this region')
  })

  it('on a terminal: picks the plan from a list and scales tcp to 1 after a confirm (default yes)', async () => {
    const big = fakePlan('tcplb-xl', {display_name: 'TCP Gateway XL', price: 30})
    h.fake.setPlans('tcp-gateway', [TCP_GATEWAY_PLAN, big])
    const app = newApp()
    const result = await h.pty(
      ['addons:tcp:create', '-a', app],
      [
        {waitFor: 'tcplb-xl - TCP Gateway XL (price 30)', keys: '\u001B[B'},
        {waitFor: /❯ tcplb-xl/, keys: '\r'},
        {waitFor: 'Scale it to 1 container now?', keys: '\r'},
      ],
    )
    expect(result.code, result.output).to.equal(0)
    expect(JSON.parse(h.fake.requestsTo('POST', `/v1/apps/${app}/addons`)[0].body).addon.plan_id).to.equal(big.id)
    expect(JSON.parse(h.fake.requestsTo('POST', `/v1/apps/${app}/scale`)[0].body)).to.deep.equal({
      containers: [{name: 'tcp', amount: 1}],
    })
    expect(result.output).to.include(`Scaled tcp to 1 on ${app}`)
    expect(result.output).to.match(/tcp:\/\/tcp-1\.osc-fr1\.scalingo\.com:200\d\d\n$/)
    // ora's spinner on the terminal, ticked off once the addon runs
    expect(result.output).to.match(/✔ TCP Gateway addon [0-9a-f]{24} is running on /)
  })

  it('on a terminal: answering no to the scale prompt leaves tcp at 0 and prints the command', async () => {
    const app = newApp()
    const result = await h.pty(
      ['addons:tcp:create', '-a', app],
      [{waitFor: 'Scale it to 1 container now?', keys: 'n\r'}],
    )
    expect(result.code, result.output).to.equal(0)
    expect(h.fake.requestsTo('POST', `/v1/apps/${app}/scale`)).to.have.length(0)
    expect(result.output).to.include(`scale it with \`scalingo --app ${app} scale tcp:1\``)
  })

  it('on a terminal: Ctrl-C while waiting stops the spinner cleanly and exits 130', async () => {
    h.fake.addonBehaviour.pollsUntilRunning = Infinity
    const app = newApp()
    const result = await h.pty(
      ['addons:tcp:create', '-a', app],
      [{waitFor: `Waiting for the TCP Gateway addon of ${app}: provisioning`, keys: '\u0003'}],
    )
    expect(result.code, result.output).to.equal(130)
    expect(result.output).to.include('✖ Stopped')
    expect(result.output).to.include(
      'Interrupted while waiting for the TCP Gateway addon to be running with TCP_URL set.',
    )
    expect(result.output).to.not.match(/tcp:\/\/tcp-1/)
    expect(result.raw.lastIndexOf('\u001B[?25h')).to.be.greaterThan(result.raw.lastIndexOf('\u001B[?25l'))
  })
})
