import {expect} from 'chai'
import {execFile} from 'node:child_process'
import {existsSync, realpathSync} from 'node:fs'
import {promisify} from 'node:util'

import {Gateway} from '../../../src/lib/gateway/gateway.js'
import {DEFAULT_ADDON_PATH} from '../../../src/lib/gateway/native-transport.js'
import {GATEWAY_IO_MODES} from '../../../src/lib/gateway/transport.js'
import {defaultTransport, nativeAvailable, nativeExpected} from '../../support/transports.js'
import {LineClient, Resources} from './fixtures.js'

const execFileAsync = promisify(execFile)
const GATEWAY_MODULE = new URL('../../../src/lib/gateway/index.ts', import.meta.url).href

describe('Gateway: choosing a transport', () => {
  it('loads no transport on import, and only the chosen one on listen (net.Socket never loads the native addon)', async function () {
    if (process.platform !== 'linux') this.skip()
    // A fresh process (this one has loaded the addon already): after each step, is relay.node mapped?
    const addon = existsSync(DEFAULT_ADDON_PATH) ? realpathSync(DEFAULT_ADDON_PATH) : DEFAULT_ADDON_PATH
    const script = `
      import {readFileSync} from 'node:fs'
      const mapped = () => readFileSync('/proc/self/maps', 'utf8').includes(${JSON.stringify(addon)})
      const {Gateway} = await import(${JSON.stringify(GATEWAY_MODULE)})
      const steps = {imported: mapped()}
      for (const io of ['streams', 'native']) {
        const gateway = new Gateway({host: '127.0.0.1', port: 0, io})
        await gateway.listen()
        steps[io] = {serving: gateway.transport.name, addonLoaded: mapped()}
        gateway.destroy()
      }
      console.log(JSON.stringify(steps))`
    const {stdout} = await execFileAsync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      env: {...process.env, SCALINGO_TCP_GATEWAY_IO: ''},
    })
    const native = defaultTransport()
    expect(JSON.parse(stdout)).to.deep.equal({
      imported: false,
      streams: {serving: 'streams', addonLoaded: false},
      // Without its addon (not built, not expected), 'native' falls back to net.Socket.
      native: {serving: native, addonLoaded: native === 'native'},
    })
  })

  describe('each mode the gateway offers', () => {
    const resources = new Resources()
    afterEach(() => resources.cleanup())

    for (const io of GATEWAY_IO_MODES) {
      it(`io: '${io}' relays a connection and names the transport serving it`, async () => {
        // Without its addon (not built, not expected), 'native' serves on net.Socket, and says so.
        const serving = io === 'native' && !nativeAvailable() && !nativeExpected() ? 'streams' : io
        const gateway = new Gateway({host: '127.0.0.1', port: 0, io})
        try {
          const {port} = await gateway.listen()
          expect(gateway.transport.name).to.equal(serving)
          const {port: backendPort} = await resources.idServer('only')
          gateway.addBackend({id: 'only', host: '127.0.0.1', port: backendPort, generation: 1})
          gateway.setReady('only')
          expect(await new LineClient(await resources.client(port)).request('x')).to.equal('only')
          expect(gateway.backends()[0]).to.include({id: 'only', total: 1})
        } finally {
          gateway.destroy()
        }
      })
    }
  })
})
