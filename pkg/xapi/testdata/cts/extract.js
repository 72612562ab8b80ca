// Writes the statement cases of the ADL LRS conformance suite as JSON
// lines ({file, group, name, expect, statement}), for TestConformanceSuite.
// Run it from a checkout of github.com/adlnet/lrs-conformance-test-suite
// after `npm install`:
//
//   node /path/to/extract.js v1_0_3 > /tmp/cts/v1_0_3.jsonl
//   node /path/to/extract.js v2_0   > /tmp/cts/v2_0.jsonl
//
// It uses the suite's own template expansion (test/helper.js), so the
// statements are exactly those the suite POSTs in its templated
// statement-structure tests; nothing of the suite is kept in this repo.
const dir = process.argv[2];
process.env.DIRECTORY = dir;
const fs = require('fs');
const path = require('path');
const helper = require(path.resolve('test/helper'));
const configs = fs.readdirSync(path.join('test', dir, 'configs')).filter(f => f.endsWith('.js'));
for (const file of configs) {
  for (const group of require(path.resolve('test', dir, 'configs', file)).config()) {
    for (const t of group.config) {
      let statement = t.json;
      if (t.templates) {
        const mock = helper.createTestObject(helper.convertTemplate(JSON.parse(JSON.stringify(t.templates))));
        statement = mock[Object.keys(mock)[0]];
      }
      console.log(JSON.stringify({file, group: group.name, name: t.name, expect: t.expect, statement}));
    }
  }
}
