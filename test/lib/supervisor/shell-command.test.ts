import {expect} from 'chai'

import {shellScript} from '../../../src/lib/supervisor/shell-command.js'

describe('shellScript', () => {
  it('hands a simple command over to the program with exec', () => {
    expect(shellScript('node server.js')).to.equal('exec node server.js')
    expect(shellScript('  npm run start-tcp  ')).to.equal('exec npm run start-tcp')
    expect(shellScript('node "my server.js" --port $PORT > log.txt')).to.equal(
      'exec node "my server.js" --port $PORT > log.txt',
    )
  })

  it('leaves to the shell what only the shell can run', () => {
    for (const command of [
      'sh -c "sleep 1000 & exec node server.js"',
      'npm run build && node server.js',
      'node a.js; node b.js',
      'node a.js | tee log',
      'cd app\nnode server.js',
      '(cd app && node server.js)',
      'FOO=bar node server.js',
      'cd app',
      'export A=1',
      'if true; then node x; fi',
      'exec node server.js',
      'echo `date`',
    ])
      expect(shellScript(command), command).to.equal(command)
  })
})
