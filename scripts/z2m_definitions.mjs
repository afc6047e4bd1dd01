// The real Zigbee2MQTT definitions of the models named on the command line, as JSON: vendor, description and the
// light, climate and switch exposes (what ambience reads; the rest is left out to keep the copies small).
// Run from a folder where zigbee-herdsman-converters is installed (scripts/bootstrap.sh --test installs the pinned
// version into .cache/zhc): `node scripts/z2m_definitions.mjs MODEL...`. tests/fixtures/z2m_definitions.json and
// firmware_sim/definitions.json are its output, and a test checks they still are.
import {readdirSync} from 'node:fs';
import {join, resolve} from 'node:path';
import {pathToFileURL} from 'node:url';

const root = resolve(process.env.ZHC_DIR || '.', 'node_modules', 'zigbee-herdsman-converters');
const {prepareDefinition} = await import(pathToFileURL(join(root, 'dist', 'index.js')).href);
const wanted = new Set(process.argv.slice(2));
const KEPT = new Set(['light', 'climate', 'switch']);
const found = {};
const dir = join(root, 'dist', 'devices');
for (const file of readdirSync(dir).filter((f) => f.endsWith('.js'))) {
  const mod = await import(pathToFileURL(join(dir, file)).href);
  const list = mod.definitions || (mod.default && mod.default.definitions) || [];
  for (const definition of list) {
    if (!wanted.has(definition.model)) continue;
    const prepared = prepareDefinition(definition);
    let exposes = prepared.exposes;
    if (typeof exposes === 'function') exposes = exposes(undefined, {});
    found[definition.model] = {
      vendor: prepared.vendor,
      description: prepared.description,
      exposes: JSON.parse(JSON.stringify(exposes)).filter((e) => KEPT.has(e.type)),
    };
  }
}
const missing = [...wanted].filter((m) => !(m in found));
if (missing.length) {
  console.error(`no definition for: ${missing.join(', ')}`);
  process.exit(1);
}
const sorted = Object.fromEntries(Object.keys(found).sort().map((m) => [m, found[m]]));
console.log(JSON.stringify(sorted, null, 1));
