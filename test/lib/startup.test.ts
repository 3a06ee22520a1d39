import {expect} from 'chai'
import {fileURLToPath} from 'node:url'

import {nodeVersionWarning, STANDALONE_TOPICS, standaloneLoadOptions} from '../../src/lib/startup.js'

describe('start-up of the standalone CLI', () => {
  it('warns on a Node older than 20, and not otherwise', () => {
    expect(nodeVersionWarning('18.19.0')).to.equal('scalingo-tcp needs Node.js 20 or later; this is 18.19.0.')
    expect(nodeVersionWarning('20.0.0')).to.equal(undefined)
    expect(nodeVersionWarning('22.11.0')).to.equal(undefined)
  })

  it("loads our package.json with the standalone topics added to the package's own", () => {
    const root = new URL('../..', import.meta.url)
    const {root: dir, pjson} = standaloneLoadOptions(root)
    expect(dir).to.equal(fileURLToPath(root))
    expect(pjson.name).to.equal('scalingo-tcp')
    expect(pjson.oclif.topics).to.include.keys('addons', 'addons:tcp', 'tcp')
    expect(pjson.oclif.topics?.addons).to.deep.equal(STANDALONE_TOPICS.addons)
  })
})
