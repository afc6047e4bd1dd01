// Runs /set payloads through the real Zigbee2MQTT converters' matching rule: for each key, the definition must have
// a toZigbee converter whose `key` list has it (Zigbee2MQTT's publish extension logs "No converter available" and
// drops the key otherwise), and the value must be inside what the definition exposes for that property (numeric
// range, enum values, binary on/off). Input on stdin: [{"model", "payload"}]; output: one verdict per key as JSON.
// Run with ZHC_DIR pointing at a folder where zigbee-herdsman-converters is installed (scripts/bootstrap.sh --test).
import {readdirSync, readFileSync} from 'node:fs';
import {join, resolve} from 'node:path';
import {pathToFileURL} from 'node:url';

const root = resolve(process.env.ZHC_DIR || '.', 'node_modules', 'zigbee-herdsman-converters');
const {prepareDefinition} = await import(pathToFileURL(join(root, 'dist', 'index.js')).href);
const cases = JSON.parse(readFileSync(0, 'utf8'));
const wanted = new Set(cases.map((c) => c.model));
const definitions = {};
const dir = join(root, 'dist', 'devices');
for (const file of readdirSync(dir).filter((f) => f.endsWith('.js'))) {
  const mod = await import(pathToFileURL(join(dir, file)).href);
  for (const definition of mod.definitions || (mod.default && mod.default.definitions) || []) {
    if (wanted.has(definition.model)) definitions[definition.model] = prepareDefinition(definition);
  }
}

function features(exposes) {
  const out = {};
  const walk = (list) => {
    for (const e of list) {
      if (e.property) out[e.property] = e;
      if (e.features) walk(e.features);
    }
  };
  walk(exposes);
  return out;
}

function valueProblem(expose, value) {
  if (!expose) return null; // a converter without an expose (transition): the converter decides
  if (expose.type === 'numeric') {
    if (typeof value !== 'number') return `expects a number, got ${JSON.stringify(value)}`;
    if (expose.value_min !== undefined && value < expose.value_min) return `below ${expose.value_min}`;
    if (expose.value_max !== undefined && value > expose.value_max) return `above ${expose.value_max}`;
    if (expose.value_step !== undefined) {
      const steps = (value - (expose.value_min ?? 0)) / expose.value_step;
      if (Math.abs(steps - Math.round(steps)) > 1e-6) return `not a multiple of ${expose.value_step}`;
    }
  } else if (expose.type === 'enum') {
    if (!expose.values.includes(value)) return `not one of ${expose.values.join(', ')}`;
  } else if (expose.type === 'binary') {
    if (![expose.value_on, expose.value_off, expose.value_toggle].includes(value)) return `not ${expose.value_on}/${expose.value_off}`;
  } else if (expose.type === 'composite' && (typeof value !== 'object' || value === null)) {
    return 'expects an object';
  }
  return null;
}

const verdicts = [];
for (const {model, payload} of cases) {
  const definition = definitions[model];
  if (!definition) {
    verdicts.push({model, key: null, verdict: 'no definition'});
    continue;
  }
  let exposes = definition.exposes;
  if (typeof exposes === 'function') exposes = exposes(undefined, {});
  const byProperty = features(exposes);
  for (const [key, value] of Object.entries(payload)) {
    // Zigbee2MQTT's rule: a converter whose `key` lists it, or one without a `key` (Tuya's datapoint converter),
    // which takes only the names of the definition's `meta.tuyaDatapoints` and throws for any other.
    let converter = definition.toZigbee.find((c) => c.key && c.key.includes(key));
    if (!converter) {
      const keyless = definition.toZigbee.find((c) => !c.key);
      const datapoints = definition.meta && definition.meta.tuyaDatapoints;
      if (keyless && (!datapoints || datapoints.some((dp) => dp[1] === key))) converter = keyless;
    }
    if (!converter) {
      verdicts.push({model, key, value, verdict: 'no converter'});
      continue;
    }
    const problem = valueProblem(byProperty[key], value);
    verdicts.push({model, key, value, verdict: problem ? `out of range: ${problem}` : 'ok'});
  }
}
console.log(JSON.stringify(verdicts));
