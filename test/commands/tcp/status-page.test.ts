import {expect} from 'chai'
import {existsSync, readFileSync, rmSync} from 'node:fs'
import net from 'node:net'
import {join} from 'node:path'
import {type Browser, type Page, chromium} from 'playwright-core'

import {ProxyProcess, SERVERS, makeApp} from '../../support/proxy.js'

const CHROMIUM = '/usr/bin/chromium'
const echo = `node ${join(SERVERS, 'echo-server.mjs')}`

/**
 * Waits until a function run in the page returns true: the page updates itself live. Functions, not
 * strings (the page's CSP forbids eval); `globalThis.document` since the tests are typed without the DOM.
 */
const until = (page: Page, check: (arg: any) => boolean, arg: unknown) =>
  page.waitForFunction(check, arg, {timeout: 15_000})
const textIs = ([selector, text]: [string, string]) =>
  (globalThis as any).document.querySelector(selector)?.textContent === text

/** The instance rows as the page shows them. */
function rows(
  page: Page,
): Promise<Array<{instance: string; generation: string; state: string; active: string; bytes: string}>> {
  return page.$$eval('#instances tr[data-instance]', (trs) =>
    trs.map((tr) => ({
      instance: tr.querySelector('.name')!.firstChild!.textContent!,
      generation: tr.querySelector('.generation')!.textContent!,
      state: tr.querySelector('.state')!.textContent!,
      active: tr.querySelector('.active')!.textContent!,
      bytes: tr.querySelector('.bytes')!.textContent!,
    })),
  )
}

describe('tcp:proxy status page in a real headless Chromium', function () {
  this.timeout(60_000)
  let dir: string
  let proxy: ProxyProcess
  let browser: Browser | undefined
  let page: Page
  let pageUrl: string
  const problems: string[] = []
  const sockets: net.Socket[] = []

  before(async function () {
    if (!existsSync(CHROMIUM)) {
      if (process.env.CI)
        throw new Error(`${CHROMIUM} is missing: CI installs it from .ci/apt-packages (apt-get install chromium).`)
      console.warn(`      skipping the status page browser test: ${CHROMIUM} is missing (apt-get install -y chromium)`)
      this.skip()
    }

    dir = makeApp(`tcp: ${echo}\n`)
    proxy = ProxyProcess.start(['--app', 'status-app', '-m', 'tcp=2', '--grace', '5s'], {cwd: dir})
    pageUrl = (await proxy.waitForEvent('status-page')).url as string
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    })
    page = await browser.newPage({viewport: {width: 1280, height: 800}})
    // A CSP violation or a script error shows up here.
    page.on('console', (message) => message.type() === 'error' && problems.push(message.text()))
    page.on('pageerror', (error) => problems.push(error.message))
  })

  after(async () => {
    for (const socket of sockets) socket.destroy()
    await browser?.close()
    await proxy?.cleanup()
    if (dir) rmSync(dir, {recursive: true, force: true})
  })

  it('prints the page URL with the control token, once, as a status-page event', async () => {
    const {token, url} = JSON.parse(readFileSync(join(dir, '.scalingo-tcp.json'), 'utf8')) as {
      token: string
      url: string
    }
    expect(pageUrl).to.equal(`${url}/?token=${token}`)
    expect(proxy.events.filter((e) => JSON.stringify(e).includes(token))).to.have.length(1)
  })

  it('shows the app, its TCP_URL and every instance ready in generation 1', async () => {
    const response = await page.goto(pageUrl)
    expect(response!.status()).to.equal(200)
    await until(
      page,
      (count) => (globalThis as any).document.querySelectorAll('#instances tr[data-state="ready"]').length === count,
      2,
    )
    expect(await page.textContent('#app')).to.equal('status-app')
    expect(await page.textContent('#tcp-url')).to.equal(`tcp://127.0.0.1:${await proxy.port()}`)
    expect(await page.textContent('#live')).to.equal('live')
    expect((await rows(page)).map(({instance, generation, state}) => ({instance, generation, state}))).to.deep.equal([
      {instance: 'tcp-1', generation: '1', state: 'ready'},
      {instance: 'tcp-2', generation: '1', state: 'ready'},
    ])
    expect(await page.textContent('#ready')).to.equal('2 / 2')
  })

  it('counts a connection through the gateway live, with its bytes, and sees it close', async () => {
    expect(await page.textContent('#active')).to.equal('0')
    const socket = net.connect(await proxy.port(), '127.0.0.1')
    sockets.push(socket)
    socket.write('hello status page\n')
    await new Promise((resolve) => socket.once('data', resolve))

    await until(page, textIs, ['#active', '1'])
    expect((await rows(page)).filter((r) => r.active === '1')).to.have.length(1)
    // The echo's bytes come with a later sample (at most a second later).
    await until(page, textIs, ['#bytes', '36 B'])
    const busy = (await rows(page)).filter((r) => r.active === '1')
    expect(busy.map((r) => r.bytes)).to.deep.equal(['18 B / 18 B'])
    await until(
      page,
      (selector) => /^\d/.test((globalThis as any).document.querySelector(selector).textContent),
      '#throughput',
    )

    await page.screenshot({path: '/tmp/status-page.png', fullPage: true, animations: 'disabled'})
    socket.end()
    await until(page, textIs, ['#active', '0'])
  })

  it('performs a rolling restart from the button and follows it until generation 2 is ready', async () => {
    await page.click('#restart')
    await until(
      page,
      (expected) => {
        const document = (globalThis as any).document
        const states = [...document.querySelectorAll('#instances tr[data-instance]')].map(
          (tr: any) => `${tr.dataset.instance}:${tr.dataset.generation}:${tr.dataset.state}`,
        )
        return states.join(',') === expected && /complete/.test(document.querySelector('#restart-text').textContent)
      },
      'tcp-1:2:ready,tcp-2:2:ready',
    )
    expect(await page.textContent('#restart-text')).to.match(
      /^Rolling restart to generation 2 complete in \d+\.\d s\.$/,
    )
    expect(await page.isEnabled('#restart')).to.equal(true)
    const log = await page.$$eval('#events li span', (spans) => spans.map((s) => s.textContent!))
    for (const name of ['tcp-1', 'tcp-2'])
      expect(
        log.filter((l) => new RegExp(`^${name} switched to generation 2 in \\d+ ms$`).test(l)),
        name,
      ).to.have.length(1)
    expect(log[0]).to.match(/^Rolling restart to generation 2 complete/)
    await page.screenshot({path: '/tmp/status-page-restarted.png', fullPage: true, animations: 'disabled'})
    const restarted = proxy.events.find((e) => e.event === 'restart-completed')
    expect(restarted).to.include({generation: 2, reason: 'requested through the control interface'})
  })

  it('had no script error nor CSP violation', () => {
    expect(problems).to.deep.equal([])
  })

  it('answers the page without its token with a 401 page', async () => {
    const response = await page.goto(new URL(pageUrl).origin + '/')
    expect(response!.status()).to.equal(401)
    expect(await page.textContent('h1')).to.equal('401: token required')
  })
})
