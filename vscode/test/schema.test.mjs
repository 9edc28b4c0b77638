// The shipped manifest schema does what an editor's YAML support uses it for: the
// project's own example manifests pass, and the mistakes akd's parser refuses are flagged.
// (That the file equals what akd serves is checked in client.test.mjs and test_vscode.py.)

import assert from "node:assert/strict";
import { promises as fs } from "node:fs";
import * as path from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";

import Ajv2020 from "ajv/dist/2020.js";
import YAML from "yaml";

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, "..", "..");
const schema = JSON.parse(await fs.readFile(path.join(here, "..", "schemas", "autokitteh.schema.json"), "utf8"));
const validate = new Ajv2020({ allErrors: true, strict: false }).compile(schema);

function errors(text) {
  return validate(YAML.parse(text)) ? [] : validate.errors.map((e) => `${e.instancePath} ${e.message}`);
}

test("every example manifest of the project is valid", async () => {
  const examples = path.join(root, "examples");
  const dirs = (await fs.readdir(examples, { withFileTypes: true })).filter((d) => d.isDirectory());
  let checked = 0;
  for (const d of dirs) {
    const file = path.join(examples, d.name, "autokitteh.yaml");
    const text = await fs.readFile(file, "utf8").catch(() => undefined);
    if (text === undefined) continue;
    assert.deepEqual(errors(text), [], file);
    checked++;
  }
  assert.ok(checked >= 3, `only ${checked} example manifests found under ${examples}`);
});

const BASE = "version: v1\nproject:\n  name: demo\n";

test("what akd's parser refuses, the schema flags", () => {
  const cases = {
    "unknown top-level key": "version: v1\nproject:\n  name: demo\nextra: 1\n",
    "unknown version": "version: v3\nproject:\n  name: demo\n",
    "missing project name": "version: v1\nproject:\n  display_name: x\n",
    "name with a dash": "version: v1\nproject:\n  name: my-demo\n",
    "unknown trigger key": `${BASE}  triggers:\n    - name: t\n      type: webhook\n      colour: red\n`,
    "unknown trigger type": `${BASE}  triggers:\n    - name: t\n      type: email\n`,
    "call without a function": `${BASE}  triggers:\n    - name: t\n      type: webhook\n      call: program.py\n`,
    "unknown integration": `${BASE}  connections:\n    - name: c\n      integration: nosuchvendor\n`,
    "var name with a space": `${BASE}  vars:\n    - name: MY VAR\n      value: x\n`,
    "is_sync not a boolean": `${BASE}  triggers:\n    - name: t\n      type: webhook\n      is_sync: maybe\n`,
    "concurrency without a limit": `${BASE}  triggers:\n    - name: t\n      type: webhook\n      concurrency: {key: data.x}\n`,
    "a duration without a unit": `${BASE}  triggers:\n    - name: t\n      type: webhook\n      debounce: {period: 30}\n`,
    "unknown flow key": `${BASE}  triggers:\n    - name: t\n      type: webhook\n      rate_limit: {limit: 1, period: 1m, burst: 2}\n`,
  };
  for (const [what, text] of Object.entries(cases)) assert.notDeepEqual(errors(text), [], what);
});

test("the keys akd accepts are accepted, v1 and v2", () => {
  const full = `version: v2
project:
  name: demo
  display_name: Demo
  vars:
    - name: GREETING
      value: hi
    - name: TOKEN
      value: s3cret
      secret: true
      description: the token
  connections:
    - name: gh
      integration: github
      vars:
        - name: pat
          value: x
  triggers:
    - name: on_http
      type: webhook
      event_type: post
      filter: data.url.path.endsWith("/hooks")
      call: program.py:on_http
      is_sync: true
      is_durable: false
    - name: tick
      schedule: "@every 5m"
      timezone: Europe/Paris
      call: lib/jobs.py:tick
    - name: on_push
      connection: gh
      event_type: push
      call: program.py:on_push
    - name: legacy
      webhook: {}
      concurrency: {limit: 1, key: data.body.json.repo}
      debounce: {period: 5s}
      dedupe: {key: 'data.headers["X-Delivery"]', for: 1h}
      rate_limit: {limit: 100, period: 1m30s, key: event_type}
  retry_policy:
    maximum_attempts: 3
    backoff_coefficient: 2
`;
  assert.deepEqual(errors(full), []);
});
