import {expect} from 'chai'

import {unwrap} from '../../../support/cli.js'
import {Harness} from '../../../support/platform.js'

describe('addons:tcp:restart', () => {
  const h = new Harness()

  before(async () => {
    await h.start()
    h.fake.addApp('my-app')
    h.fake.setFormation('my-app', [
      {name: 'web', amount: 1},
      {name: 'tcp', amount: 1},
    ])
    h.fake.addTcpAddon('my-app')
  })

  after(() => h.stop())
  afterEach(() => {
    h.fake.clearFailures()
    h.fake.operationStatuses = {}
  })

  it('restarts the tcp scope and follows the operation pending -> running -> done', async () => {
    const before = h.fake.requests.length
    const result = await h.cli(['addons:tcp:restart', '-a', 'my-app'])
    expect(result.code, result.stderr).to.equal(0)
    expect(result.stdout).to.equal('')
    const [post] = h.fake.requestsTo('POST', '/v1/apps/my-app/restart').slice(-1)
    expect(JSON.parse(post.body)).to.deep.equal({scope: ['tcp']})
    const polls = h.fake.requests.slice(before).filter((r) => r.method === 'GET' && r.path.includes('/operations/'))
    expect(polls.map((r) => r.status)).to.deep.equal([200, 200, 200])
    expect(result.stderr.match(/connections open on the old tcp containers are dropped/g)).to.have.length(1)
    expect(result.stderr).to.include('Restarting the tcp containers of my-app: running')
    expect(result.stderr).to.match(/The tcp containers of my-app restarted in \d+(\.\d)? s\n$/)
  })

  it('prints --json with the operation and its duration, and no spinner or notes', async () => {
    const result = await h.cli(['addons:tcp:restart', '-a', 'my-app', '--json'])
    expect(result.code, result.stderr).to.equal(0)
    expect(result.stderr).to.equal('')
    const body = JSON.parse(result.stdout)
    expect(body).to.include({app: 'my-app', waited: true})
    expect(body.scope).to.deep.equal(['tcp'])
    expect(body.operation).to.deep.include({type: 'restart', status: 'done', error: null})
    expect(body.operation.id).to.match(/^[0-9a-f]{24}$/)
    expect(body.durationSeconds).to.be.a('number').and.at.least(0)
  })

  it('exits 1 with the operation error message when the restart fails', async () => {
    h.fake.operationStatuses.restart = ['pending', 'running', 'error']
    const result = await h.cli(['addons:tcp:restart', '-a', 'my-app'])
    expect(result.code).to.equal(1)
    expect(result.stdout).to.equal('')
    expect(unwrap(result.stderr)).to.include(
      'Restarting the tcp containers failed on Scalingo: container tcp-1 failed to restart.',
    )
    const json = await h.cli(['addons:tcp:restart', '-a', 'my-app', '--json'])
    expect(json.code).to.equal(1)
    expect(JSON.parse(json.stdout).error).to.include({code: 'OPERATION_FAILED', exitCode: 1})
  })

  it('--no-wait returns once the restart is accepted, without polling', async () => {
    const before = h.fake.requests.length
    const result = await h.cli(['addons:tcp:restart', '-a', 'my-app', '--no-wait', '--json'])
    expect(result.code, result.stderr).to.equal(0)
    const body = JSON.parse(result.stdout)
    expect(body).to.include({waited: false, durationSeconds: null})
    expect(body.operation.status).to.equal('pending')
    expect(h.fake.requests.slice(before).some((r) => r.path.includes('/operations/'))).to.equal(false)
  })

  it('exits 5 after --wait-timeout with a hint of the command that checks later', async () => {
    h.fake.operationStatuses.restart = ['pending', 'running']
    const result = await h.cli(['addons:tcp:restart', '-a', 'my-app', '--wait-timeout', '200ms'])
    expect(result.code).to.equal(5)
    const stderr = unwrap(result.stderr)
    expect(stderr).to.include('Gave up waiting for the tcp containers to restart after 0.2 s (last status: running).')
    expect(stderr).to.include('scalingo-tcp addons:tcp:info -a my-app')
  })

  it('exits 130 on Ctrl-C while waiting, saying the restart goes on and how to check it', async () => {
    h.fake.operationStatuses.restart = ['pending', 'running']
    const result = await h.interrupt(
      ['addons:tcp:restart', '-a', 'my-app'],
      /Restarting the tcp containers of my-app: running/,
    )
    expect(result.sawPattern, result.stderr).to.equal(true)
    expect(result.code).to.equal(130)
    const stderr = unwrap(result.stderr)
    expect(stderr).to.include('Interrupted while waiting for the tcp containers to restart.')
    expect(stderr).to.include('The platform carries on: check its state with `scalingo-tcp addons:tcp:info -a my-app`')
  })

  it('stops the spinner cleanly on Ctrl-C in a terminal', async () => {
    h.fake.operationStatuses.restart = ['pending', 'running']
    const result = await h.pty(['addons:tcp:restart', '-a', 'my-app'], [{waitFor: 'my-app: running', keys: '\u0003'}])
    expect(result.code, result.output).to.equal(130)
    expect(result.output).to.include('Interrupted while waiting for the tcp containers to restart.')
    expect(result.output).to.include('✖ Restarting the tcp containers of my-app: stopped')
    // ora hid the cursor while spinning: it must be shown again
    expect(result.raw.lastIndexOf('\u001B[?25h')).to.be.greaterThan(result.raw.lastIndexOf('\u001B[?25l'))
  })

  it('shows the platform message of a 422 and the foundation mapping of a 404', async () => {
    h.fake.failNext('/v1/apps/my-app/restart', {status: 422, body: {errors: {app: ['is already restarting']}}})
    const rejected = await h.cli(['addons:tcp:restart', '-a', 'my-app'])
    expect(rejected.code).to.equal(1)
    expect(rejected.stderr).to.include('app: is already restarting')
    const missing = await h.cli(['addons:tcp:restart', '-a', 'nope'])
    expect(missing.code).to.equal(4)
  })

  it('follows the foundation mapping when the restart request itself fails (a POST is never replayed)', async () => {
    const posts = () => h.fake.requestsTo('POST', '/v1/apps/my-app/restart').length
    let before = posts()
    h.fake.failNext('/v1/apps/my-app/restart', {status: 429, body: 'Retry later'})
    const limited = await h.cli(['addons:tcp:restart', '-a', 'my-app', '--json'])
    expect(limited.code).to.equal(1)
    expect(JSON.parse(limited.stdout).error).to.include({code: 'RATE_LIMITED', exitCode: 1})
    expect(posts() - before).to.equal(1)
    before = posts()
    h.fake.failNext('/v1/apps/my-app/restart', {delayMs: 2000})
    const slow = await h.cli(['addons:tcp:restart', '-a', 'my-app'], {env: {SCALINGO_TCP_HTTP_TIMEOUT: '100'}})
    expect(slow.code).to.equal(1)
    expect(unwrap(slow.stderr)).to.match(/did not answer within 100 ms \(POST \/v1\/apps\/my-app\/restart\)/)
    expect(posts() - before).to.equal(1)
  })
})
