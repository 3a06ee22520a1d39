import {expect} from 'chai'

import {operationIdFromLocation} from '../../../src/lib/api/addons.js'
import {type CheckResult, operationSeconds, pollIntervalMs, waitFor} from '../../../src/lib/api/wait.js'
import {ExitCode, InterruptedError, TimeoutError} from '../../../src/lib/errors.js'

const base = {what: 'the thing to be ready', checkLater: 'scalingo-tcp addons:tcp:info -a my-app', intervalMs: 2}

describe('waitFor', () => {
  it('polls until the check is done, reports progress, and resolves with its value', async () => {
    const statuses = ['pending', 'running']
    const progress: string[] = []
    let calls = 0
    const value = await waitFor(
      async (): Promise<CheckResult<number>> => {
        calls++
        return calls > statuses.length ? {done: true, value: 42} : {done: false, status: statuses[calls - 1]}
      },
      {...base, timeoutMs: 5000, onProgress: (s) => progress.push(s)},
    )
    expect(value).to.equal(42)
    expect(calls).to.equal(3)
    expect(progress).to.deep.equal(['pending', 'running'])
  })

  it('throws a TimeoutError (exit 5) naming the last status and the command that checks later', async () => {
    const started = Date.now()
    const error = await waitFor(async () => ({done: false, status: 'provisioning'}), {...base, timeoutMs: 50}).catch(
      (e: unknown) => e,
    )
    expect(error).to.be.instanceOf(TimeoutError)
    expect((error as TimeoutError).exitCode).to.equal(ExitCode.Timeout)
    expect((error as TimeoutError).message).to.equal(
      'Gave up waiting for the thing to be ready after 0.1 s (last status: provisioning).',
    )
    expect((error as TimeoutError).suggestions[0]).to.include('`scalingo-tcp addons:tcp:info -a my-app`')
    expect(Date.now() - started).to.be.within(45, 2000)
  })

  it('stops at once with an InterruptedError (exit 130) when the signal aborts, even mid-check', async () => {
    const controller = new AbortController()
    const pending = waitFor(
      () => {
        setImmediate(() => controller.abort())
        return new Promise<CheckResult<void>>(() => {})
      },
      {...base, timeoutMs: 60_000, signal: controller.signal},
    )
    const error = await pending.catch((e: unknown) => e)
    expect(error).to.be.instanceOf(InterruptedError)
    expect((error as InterruptedError).exitCode).to.equal(130)
    expect((error as InterruptedError).suggestions[0]).to.include('The platform carries on')
  })

  it('stops during the sleep between checks when the signal aborts', async () => {
    const controller = new AbortController()
    const error = await waitFor(
      async () => {
        setImmediate(() => controller.abort())
        return {done: false, status: 'running'}
      },
      {...base, intervalMs: 60_000, timeoutMs: 120_000, signal: controller.signal},
    ).catch((e: unknown) => e)
    expect(error).to.be.instanceOf(InterruptedError)
  })

  it('lets errors from the check through', async () => {
    const error = await waitFor(
      async () => {
        throw new Error('boom')
      },
      {...base, timeoutMs: 1000},
    ).catch((e: unknown) => e)
    expect((error as Error).message).to.equal('boom')
  })
})

describe('wait helpers', () => {
  it('polls once a second unless SCALINGO_TCP_POLL_INTERVAL_MS says otherwise', () => {
    expect(pollIntervalMs({})).to.equal(1000)
    expect(pollIntervalMs({SCALINGO_TCP_POLL_INTERVAL_MS: '20'})).to.equal(20)
    expect(pollIntervalMs({SCALINGO_TCP_POLL_INTERVAL_MS: '0'})).to.equal(1000)
    expect(pollIntervalMs({SCALINGO_TCP_POLL_INTERVAL_MS: 'soon'})).to.equal(1000)
  })

  it('reads the operation id from absolute and relative Location headers', () => {
    expect(
      operationIdFromLocation('https://api.osc-fr1.scalingo.com/v1/apps/my-app/operations/52fd2357356330032b080000'),
    ).to.equal('52fd2357356330032b080000')
    expect(operationIdFromLocation('/v1/apps/my-app/operations/abc/')).to.equal('abc')
    expect(operationIdFromLocation(undefined)).to.equal(undefined)
    expect(operationIdFromLocation('')).to.equal(undefined)
  })

  it("computes an operation's duration from its timestamps, else from the fallback", () => {
    expect(
      operationSeconds(
        {
          id: 'o',
          status: 'done',
          created_at: '2014-09-10T10:17:52.690+02:00',
          finished_at: '2014-09-10T10:17:59.120+02:00',
        },
        1,
      ),
    ).to.equal(6.4)
    expect(operationSeconds({id: 'o', status: 'done'}, 2500)).to.equal(2.5)
  })
})
