import {expect} from 'chai'
import {execFile} from 'node:child_process'
import {existsSync, realpathSync} from 'node:fs'
import {promisify} from 'node:util'

import {DEFAULT_ADDON_PATH} from '../../../src/lib/gateway/native-transport.js'
import {defaultTransport} from '../../helpers/transports.js'

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
})
