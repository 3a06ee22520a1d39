import {expect} from 'chai'

import {bootFailureHints} from '../../../src/lib/proxy/boot-hints.js'

describe('bootFailureHints', () => {
  it('recognises a server that bound the TCP_URL port', () => {
    const lines = ['Error: listen EADDRINUSE: address already in use :::20003', '    at Server.setupListenHandle']
    expect(bootFailureHints('tcp-1', lines, 20_003)).to.deep.equal([
      'tcp-1 tried to listen on 20003, the TCP_URL port, which belongs to the gateway: listen on $PORT instead.',
    ])
  })

  it('says the port is taken when it is another one, and stays silent otherwise', () => {
    expect(
      bootFailureHints('tcp-2', ['Error: listen EADDRINUSE: address already in use 0.0.0.0:8080'], 20_003)[0],
    ).to.match(/tcp-2 could not listen: its port is already in use/)
    expect(bootFailureHints('tcp-1', ['listening on 200031', 'TypeError: boom'], 20_003)).to.deep.equal([])
  })
})
