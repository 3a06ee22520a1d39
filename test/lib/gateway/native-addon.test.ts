import {expect} from 'chai'
import {existsSync} from 'node:fs'
import {createRequire} from 'node:module'

import {DEFAULT_ADDON_PATH, loadAddon} from '../../../src/lib/gateway/native-transport.js'

// The relay is an N-API addon (NAPI_VERSION 8): the one build the install made loads on every Node line that CI runs
// (.ci/run builds it once, on the machine's Node, and runs the suite on Node 24 and 26 with that same file).
describe(`native relay addon under Node ${process.version}`, () => {
  it('loads, when it has been built, whichever Node version built it', function () {
    if (!existsSync(DEFAULT_ADDON_PATH)) this.skip()
    // require() itself, so a failure says why (loadAddon() turns it into null, the fallback's signal)
    const addon = createRequire(import.meta.url)(DEFAULT_ADDON_PATH) as Record<string, unknown>
    expect(typeof addon.setup).to.equal('function')
    expect(typeof addon.pipe).to.equal('function')
    expect(loadAddon(), 'loadAddon() fell back to null').to.not.equal(null)
  })
})
