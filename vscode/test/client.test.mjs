// The extension's client layer against a real akd.
//
// Started by tests/e2e/test_vscode.py (or `python vscode/build_and_test.py`), which runs
// an akd in a temporary data dir and passes AKD_TEST_DATA_DIR (that data dir) and
// AKD_TEST_WORK (a scratch directory for projects).

import assert from "node:assert/strict";
import { promises as fs } from "node:fs";
import * as http from "node:http";
import * as path from "node:path";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";

import * as ak from "../dist/client.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));
const dataDir = process.env.AKD_TEST_DATA_DIR;
const work = process.env.AKD_TEST_WORK;
if (!dataDir || !work) throw new Error("run through tests/e2e/test_vscode.py: AKD_TEST_DATA_DIR and AKD_TEST_WORK are unset");

const env = { AKD_DATA_DIR: dataDir };
const DEADLINE_MS = 60_000;

async function writeProject(name, files) {
  const dir = path.join(work, name);
  await fs.rm(dir, { recursive: true, force: true });
  for (const [rel, text] of Object.entries(files)) {
    await fs.mkdir(path.dirname(path.join(dir, rel)), { recursive: true });
    await fs.writeFile(path.join(dir, rel), text);
  }
  return dir;
}

/** Poll `cond` until it returns something truthy, failing after a deadline (never a fixed sleep). */
async function waitFor(cond, what, ms = DEADLINE_MS) {
  const end = Date.now() + ms;
  let last;
  while (Date.now() < end) {
    last = await cond();
    if (last) return last;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what} (last: ${JSON.stringify(last)})`);
}

async function rejection(promise) {
  try {
    await promise;
  } catch (err) {
    return err;
  }
  assert.fail("expected the call to fail");
}

const MANIFEST = `version: v1
project:
  name: vsc_demo
  connections:
    - name: bot
      integration: azurebot
  triggers:
    - name: on_http
      type: webhook
      call: program.py:on_http
    - name: every_morning
      schedule: "0 9 * * *"
      call: program.py:on_tick
    - name: slow_hook
      type: webhook
      call: program.py:slow
`;

const PROGRAM = `import time


def on_http(event):
    print("hello", event.data.get("who"))
    if event.data.get("fail"):
        return helper()
    return {"ok": True}


def helper():
    raise ValueError("boom from helper")


def on_tick(event):
    pass


async def slow(event):
    print("sleeping")
    time.sleep(600)
`;

// -- discovery --------------------------------------------------------------------------

describe("discovery", () => {
  test("daemon.json and token in the data dir, as akctl finds them", async () => {
    const info = JSON.parse(await fs.readFile(path.join(dataDir, "daemon.json"), "utf8"));
    const token = (await fs.readFile(path.join(dataDir, "token"), "utf8")).trim();
    const where = await ak.locate({}, env);
    assert.equal(where.url, info.url);
    assert.equal(where.token, token);
    assert.equal(where.source, path.join(dataDir, "daemon.json"));
    assert.deepEqual(await ak.daemonCandidates(dataDir), [where]);
  });

  test("the data dir falls back to $XDG_DATA_HOME/akd", () => {
    assert.equal(ak.defaultDataDir({}, { XDG_DATA_HOME: "/x/share" }), "/x/share/akd");
    assert.equal(ak.defaultDataDir({ dataDir: "/set" }, { AKD_DATA_DIR: "/env" }), "/set");
    assert.equal(ak.defaultDataDir({}, { AKD_DATA_DIR: "/env" }), "/env");
  });

  test("settings and AKD_URL/AKD_TOKEN win over daemon.json", async () => {
    const fromEnv = await ak.locate({}, { ...env, AKD_URL: "http://127.0.0.1:1/", AKD_TOKEN: "t1" });
    assert.deepEqual([fromEnv.url, fromEnv.token, fromEnv.source], ["http://127.0.0.1:1", "t1", "AKD_URL"]);
    const fromSettings = await ak.locate({ url: "http://127.0.0.1:2", token: "t2" }, { ...env, AKD_URL: "http://x" });
    assert.deepEqual([fromSettings.url, fromSettings.token, fromSettings.source], ["http://127.0.0.1:2", "t2", "settings"]);
  });

  test("no daemon: a clear message naming daemon.json and how to start one", async () => {
    const empty = path.join(work, "empty-data-dir");
    await fs.mkdir(empty, { recursive: true });
    const err = await rejection(ak.locate({}, { AKD_DATA_DIR: empty }));
    assert.equal(err.kind, "not_running");
    assert.match(err.message, /akd is not running \(no .*empty-data-dir\/daemon\.json\); start it with: akctl up --detach/);
  });

  test("nothing listening at the URL: not running, with the URL", async () => {
    const server = http.createServer();
    await new Promise((r) => server.listen(0, "127.0.0.1", r));
    const port = server.address().port;
    await new Promise((r) => server.close(r));
    const err = await rejection(new ak.Client(`http://127.0.0.1:${port}`, "x").check());
    assert.equal(err.kind, "not_running");
    assert.match(err.message, new RegExp(`akd is not running at http://127\\.0\\.0\\.1:${port}`));
  });
});

// -- connecting to the real daemon ---------------------------------------------------------

describe("connect", () => {
  test("health and version of the real daemon", async () => {
    const client = await ak.Client.connect({}, env);
    const health = await client.check();
    assert.equal(health.status, "ok");
    assert.equal(ak.incompatibility(health.version, client.url), "");
    assert.ok(health.pid > 0);
  });

  test("a wrong token is refused with a message saying what to fix", async () => {
    const where = await ak.locate({}, env);
    const err = await rejection(new ak.Client(where.url, "wrong-token").check());
    assert.equal(err.kind, "unauthenticated");
    assert.equal(err.status, 401);
    assert.match(err.message, /refused the API token .*set akd\.token/);
  });
});

describe("API versions", () => {
  let server;
  let answer;
  before(async () => {
    server = http.createServer((req, res) => {
      const [status, body] = answer(req.url);
      res.writeHead(status, { "Content-Type": "application/json" });
      res.end(JSON.stringify(body));
    });
    await new Promise((r) => server.listen(0, "127.0.0.1", r));
  });
  after(() => new Promise((r) => server.close(r)));
  const url = () => `http://127.0.0.1:${server.address().port}`;

  test("a newer akd: both versions in the message", async () => {
    answer = () => [200, { status: "ok", version: "1.2.0" }];
    const err = await rejection(new ak.Client(url(), "t").check());
    assert.equal(err.kind, "incompatible");
    assert.match(err.message, /is version 1\.2\.0, newer than this extension supports \(akd 0\.1\.0 up to \(not including\) 1\.0\.0\)/);
  });

  test("an older akd: both versions in the message", async () => {
    answer = () => [200, { status: "ok", version: "0.0.9" }];
    const err = await rejection(new ak.Client(url(), "t").check());
    assert.match(err.message, /is version 0\.0\.9, older than this extension supports .*upgrade akd/);
  });

  test("no /api/v1 at all (another API version): says so", async () => {
    answer = () => [404, { error: { code: "not_found", message: "no route" } }];
    const err = await rejection(new ak.Client(url(), "t").check());
    assert.equal(err.kind, "incompatible");
    assert.match(err.message, /has no \/api\/v1\/health: it is not an akd that speaks API v1/);
  });
});

// -- deploy and the views' data ------------------------------------------------------------

describe("deploy and views", () => {
  let client;
  let dir;
  before(async () => {
    client = await ak.Client.connect({}, env);
    dir = await writeProject("vsc_demo", {
      "autokitteh.yaml": MANIFEST,
      "program.py": PROGRAM,
      ".git/HEAD": "ref: refs/heads/main\n",
      "__pycache__/program.cpython-311.pyc": "x",
      "node_modules/left-pad/index.js": "x",
      "lib/util.py": "X = 1\n",
    });
  });

  test("the files sent are the ones akd's build keeps", async () => {
    const files = [...(await ak.projectFiles(dir)).keys()];
    assert.deepEqual(files, ["autokitteh.yaml", "lib/util.py", "program.py"]);
  });

  test("deploy, then projects, deployments, triggers and connections", async () => {
    const result = await client.deploy(dir);
    assert.match(result.deployment_id, /^dep_[a-z0-9]{26}$/);
    assert.ok(result.webhooks.on_http.includes("/webhooks/"));

    const projects = await client.projects();
    const mine = projects.find((p) => p.name === "vsc_demo");
    assert.equal(mine.active_deployment_id, result.deployment_id);
    assert.equal(mine.root_dir, path.resolve(dir));

    const deployments = await client.deployments("vsc_demo");
    assert.deepEqual(deployments.map((d) => [d.deployment_id, d.state]), [[result.deployment_id, "active"]]);

    const triggers = Object.fromEntries((await client.triggers("vsc_demo")).map((t) => [t.name, t]));
    assert.equal(triggers.on_http.webhook_url, result.webhooks.on_http);
    assert.equal(triggers.every_morning.type, "schedule");
    assert.equal(triggers.every_morning.next_fire_times.length, 3);
    assert.match(triggers.every_morning.next_fire_times[0], /T\d\d:00:00\.000Z$/);

    const [bot] = await client.connections("vsc_demo");
    assert.deepEqual([bot.name, bot.integration, bot.status], ["bot", "azurebot", "init_required"]);
    const integration = await client.integration("azurebot");
    assert.ok(integration.auth_modes.length >= 1);
  });

  test("the outcome of an OAuth authorization akd never started is a clear not-found", async () => {
    const err = await rejection(client.oauthOutcome("vsc_demo/bot", "no-such-state"));
    assert.equal(err.status, 404);
    assert.match(err.message, /no OAuth authorization with that state for vsc_demo\/bot/);
  });

  test("a Python syntax error becomes a diagnostic at file:line:col", async () => {
    const bad = await writeProject("vsc_bad_py", {
      "autokitteh.yaml": "version: v1\nproject:\n  name: vsc_bad_py\n",
      "program.py": "def ok():\n    return 1\n\ndef broken(:\n    pass\n",
    });
    const err = await rejection(client.deploy(bad));
    assert.equal(err.code, "build_failed");
    const [p] = ak.problemsOf(err, bad);
    assert.equal(p.file, path.join(bad, "program.py"));
    assert.equal(p.line, 3); // 0-based: the fourth line
    assert.ok(p.column >= 0 && p.column <= 12, `column ${p.column}`);
    assert.doesNotMatch(p.message, /^program\.py:/);
  });

  test("a manifest error becomes a diagnostic on its line, naming the key", async () => {
    const bad = await writeProject("vsc_bad_manifest", {
      "autokitteh.yaml": "version: v1\nproject:\n  name: vsc_bad_manifest\n  triggers:\n    - name: t\n      type: webhook\n      colour: red\n",
    });
    const err = await rejection(client.deploy(bad));
    assert.equal(err.code, "invalid_manifest");
    const [p] = ak.problemsOf(err, bad);
    assert.equal(p.file, path.join(bad, "autokitteh.yaml"));
    assert.equal(p.line, 6);
    assert.match(p.message, /^unknown key "colour" .*\(project\.triggers\[0\]\.colour\)$/);
  });

  test("a call to a missing function points at the file", async () => {
    const bad = await writeProject("vsc_bad_call", {
      "autokitteh.yaml": "version: v1\nproject:\n  name: vsc_bad_call\n  triggers:\n    - name: t\n      type: webhook\n      call: program.py:nope\n",
      "program.py": "def other(event):\n    pass\n",
    });
    const err = await rejection(client.deploy(bad));
    const [p] = ak.problemsOf(err, bad);
    assert.equal(p.file, path.join(bad, "program.py"));
    assert.match(p.message, /no top-level function "nope" \(defined: other\)/);
  });

  test("a folder without a manifest is refused before anything is sent", async () => {
    const before = (await client.projects()).length;
    const plain = await writeProject("vsc_no_manifest", { "program.py": "x = 1\n" });
    const err = await rejection(client.deploy(plain));
    assert.equal(err.code, "no_manifest");
    assert.match(err.message, /vsc_no_manifest has no autokitteh\.yaml/);
    assert.equal((await client.projects()).length, before);
    assert.equal(ak.problemsOf(err, plain)[0].file, path.join(plain, "autokitteh.yaml"));
  });

  test("the schema served by akd is the one the extension ships", async () => {
    const shipped = JSON.parse(await fs.readFile(path.join(here, "..", "schemas", "autokitteh.schema.json"), "utf8"));
    assert.deepEqual(await client.manifestSchema(), shipped);
  });
});

// -- sessions ------------------------------------------------------------------------------

describe("sessions", () => {
  let client;
  before(async () => {
    client = await ak.Client.connect({}, env);
    const projects = await client.projects();
    assert.ok(projects.some((p) => p.name === "vsc_demo"), "the deploy tests run first");
  });

  test("a test event starts a session; its document has prints and the timeline", async () => {
    const ev = await client.dispatch("vsc_demo", "on_http", { who: "vscode" });
    assert.equal(ev.session_ids.length, 1);
    const s = await client.waitSession(ev.session_ids[0]);
    assert.equal(s.state, "completed");
    assert.deepEqual(s.return_value, { ok: true });
    const prints = await client.prints(s.session_id);
    assert.deepEqual(prints.prints.map((p) => p.text), ["hello vscode"]);
    const log = await client.log(s.session_id);
    const doc = ak.renderSession(s, prints.prints, log.records);
    assert.match(doc, /✓ session ses_\w+ {2}\[completed\]/);
    assert.match(doc, /── prints \(1\) ──\n\S+Z {2}hello vscode\n/);
    const steps = log.records.filter((r) => r.kind !== "print");
    assert.ok(log.records.some((r) => r.kind === "print") && steps.some((r) => r.kind === "state"));
    assert.match(doc, new RegExp(`── timeline \\(${steps.length}\\) ──\n\\S+Z {2}state {2}\\{"state":"created"\\}`));
    assert.doesNotMatch(doc.split("── timeline")[1], /print hello vscode/);
    assert.match(doc, /"ok": true/);
  });

  test("an error: type, message and traceback frames into the project's files", async () => {
    const ev = await client.dispatch("vsc_demo", "on_http", { who: "x", fail: true });
    const s = await client.waitSession(ev.session_ids[0]);
    assert.equal(s.state, "error");
    assert.equal(s.error.type, "ValueError");
    const frames = ak.tracebackFrames(s.error.traceback);
    assert.deepEqual(frames.map((f) => [f.file, f.line, f.func]), [["program.py", 7, "on_http"], ["program.py", 12, "helper"]]);
    const doc = ak.renderSession(s, (await client.prints(s.session_id)).prints, (await client.log(s.session_id)).records);
    assert.match(doc, /── error: ValueError ──\nboom from helper/);
    assert.deepEqual(ak.tracebackFrames(doc), frames);
  });

  test("restart and rerun start new sessions of the same entry point", async () => {
    const ev = await client.dispatch("vsc_demo", "on_http", { who: "again" });
    const first = await client.waitSession(ev.session_ids[0]);
    const restarted = await client.restart(first.session_id);
    assert.equal(restarted.restart_of, first.session_id);
    const r = await client.waitSession(restarted.session_id);
    assert.equal(r.entrypoint, first.entrypoint);
    const rerun = await client.rerun(first);
    assert.equal(rerun.session_ids.length, 1);
    assert.notEqual(rerun.event_id, first.event_id);
    const again = await client.waitSession(rerun.session_ids[0]);
    assert.deepEqual((await client.prints(again.session_id)).prints.map((p) => p.text), ["hello again"]);
  });

  test("a session started by hand (code lens) cannot be rerun, with a reason", async () => {
    const started = await client.startSession("vsc_demo", "program.py:on_http");
    const s = await client.waitSession(started.session_id);
    assert.equal(s.event_id, ""); // started by hand: no event
    assert.throws(() => client.rerun(s), /was not started by an event: nothing to rerun/);
  });

  test("stop a live session", async () => {
    const ev = await client.dispatch("vsc_demo", "slow_hook", {});
    const id = ev.session_ids[0];
    await waitFor(async () => (await client.prints(id)).prints.length > 0, "the slow session to print");
    assert.ok(ak.isLive((await client.session(id)).state));
    await client.stop(id);
    const s = await client.waitSession(id);
    assert.equal(s.state, "stopped");
    const listed = await client.sessions({ project: "vsc_demo", limit: 50 });
    assert.equal(listed.find((x) => x.session_id === id).state, "stopped");
  });
});

// -- manifest helpers for the code lenses -------------------------------------------------------

describe("code lens helpers", () => {
  test("call: lines with their trigger, and the functions they name", () => {
    assert.deepEqual(ak.manifestCalls(MANIFEST), [
      { line: 9, trigger: "on_http", file: "program.py", func: "on_http" },
      { line: 12, trigger: "every_morning", file: "program.py", func: "on_tick" },
      { line: 15, trigger: "slow_hook", file: "program.py", func: "slow" },
    ]);
    assert.equal(ak.functionLine(PROGRAM, "on_http"), 3);
    assert.equal(ak.functionLine(PROGRAM, "slow"), 18); // async def
    assert.equal(ak.functionLine(PROGRAM, "missing"), -1);
    assert.equal(ak.manifestProjectName(MANIFEST), "vsc_demo");
  });
});
