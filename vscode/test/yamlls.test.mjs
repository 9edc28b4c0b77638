// The shipped manifest schema through Red Hat's YAML language server, the one the
// redhat.vscode-yaml extension runs: completion and validation of autokitteh.yaml as the
// editor shows them. The server runs for real over stdio, and the schema reaches it from
// the package's contributes.yamlValidation by each of the two ways an editor has: the
// association notification redhat.vscode-yaml sends for every installed extension's
// yamlValidation, and the yaml.schemas setting (what a user, or an editor other than
// VS Code, writes).

import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { promises as fs } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { after, before, describe, test } from "node:test";
import { fileURLToPath, pathToFileURL } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const extension = path.resolve(here, "..");
const root = path.resolve(extension, "..");
const SERVER = path.join(extension, "node_modules", "yaml-language-server", "bin", "yaml-language-server");
const DEADLINE_MS = 30_000;

const manifest = JSON.parse(await fs.readFile(path.join(extension, "package.json"), "utf8"));
const schema = JSON.parse(await fs.readFile(path.join(extension, "schemas", "autokitteh.schema.json"), "utf8"));
const TRIGGER = schema.$defs.trigger;
const fromSchema = (d) => d.source?.startsWith("yaml-schema:");

// A minimal LSP client over the server's stdio: Content-Length framed JSON-RPC.
class LanguageServer {
  constructor(settings) {
    this.settings = settings; // what it gets when it asks for its configuration
    this.proc = spawn(process.execPath, [SERVER, "--stdio"], { stdio: ["pipe", "pipe", "pipe"] });
    this.log = ""; // its stderr and window/logMessage lines, shown when a wait fails
    this.proc.stderr.on("data", (chunk) => (this.log += chunk));
    this.buffer = Buffer.alloc(0);
    this.nextId = 1;
    this.pending = new Map();
    this.diagnostics = new Map();
    this.waiters = [];
    this.proc.stdout.on("data", (chunk) => this.receive(chunk));
    // A server that died shows as a wait that fails with its log, not as a write error.
    this.proc.stdin.on("error", () => undefined);
  }

  write(message) {
    const body = Buffer.from(JSON.stringify({ jsonrpc: "2.0", ...message }), "utf8");
    this.proc.stdin.write(Buffer.concat([Buffer.from(`Content-Length: ${body.length}\r\n\r\n`), body]));
  }

  request(method, params) {
    const id = this.nextId++;
    this.write({ id, method, params });
    return this.within(new Promise((resolve, reject) => this.pending.set(id, { resolve, reject })), method);
  }

  notify(method, params) {
    this.write({ method, params });
  }

  receive(chunk) {
    this.buffer = Buffer.concat([this.buffer, chunk]);
    for (;;) {
      const end = this.buffer.indexOf("\r\n\r\n");
      if (end < 0) return;
      const length = Number(/Content-Length: (\d+)/i.exec(this.buffer.subarray(0, end).toString())[1]);
      if (this.buffer.length < end + 4 + length) return;
      const message = JSON.parse(this.buffer.subarray(end + 4, end + 4 + length).toString("utf8"));
      this.buffer = this.buffer.subarray(end + 4 + length);
      this.dispatch(message);
    }
  }

  dispatch(message) {
    if (message.method !== undefined && message.id !== undefined) this.answer(message);
    else if (message.id !== undefined) this.settle(message);
    else if (message.method === "textDocument/publishDiagnostics") {
      this.diagnostics.set(message.params.uri, message.params.diagnostics);
      // A waiter that returns true has resolved and is dropped.
      this.waiters = this.waiters.filter((w) => !w());
    } else if (message.method === "window/logMessage") this.log += `${message.params.message}\n`;
  }

  settle(message) {
    const waiting = this.pending.get(message.id);
    this.pending.delete(message.id);
    if (message.error) waiting.reject(new Error(`${message.error.code} ${message.error.message}`));
    else waiting.resolve(message.result);
  }

  // The server asks the client for its settings (workspace/configuration) and to register
  // capabilities; the rest of what it may ask needs no more than an empty answer.
  answer(message) {
    let result = null;
    if (message.method === "workspace/configuration") {
      result = message.params.items.map((item) => (item.section === "yaml" ? this.settings.yaml : null));
    }
    this.write({ id: message.id, result });
  }

  within(promise, what) {
    let timer;
    const timeout = new Promise((_, reject) => {
      const failure = () => reject(new Error(`waited ${DEADLINE_MS} ms for ${what}\n${this.log}`));
      timer = setTimeout(failure, DEADLINE_MS);
    });
    return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
  }

  // The next diagnostics published for `uri` that satisfy `wanted` (the server publishes once per validation).
  diagnosticsOf(uri, wanted = () => true) {
    const seen = new Promise((resolve) => {
      const check = () => {
        const found = this.diagnostics.get(uri);
        return found !== undefined && wanted(found) && (resolve(found), true);
      };
      this.waiters.push(check);
    });
    return this.within(seen, `diagnostics of ${uri}`);
  }

  async stop() {
    await this.request("shutdown", null).catch(() => undefined);
    const exited = new Promise((resolve) => (this.proc.exitCode !== null ? resolve() : this.proc.once("exit", resolve)));
    this.notify("exit", null);
    await this.within(exited, "exit").catch(() => this.proc.kill("SIGKILL"));
  }
}

// contributes.yamlValidation as redhat.vscode-yaml hands it to the server: a "./" url is
// resolved against the extension's folder, and a plain file name is anchored with a "/"
// (which the server reads as "this name in any folder").
function associations() {
  return manifest.contributes.yamlValidation.map(({ fileMatch, url }) => ({
    uri: url.startsWith("./") ? pathToFileURL(path.join(extension, url)).href : url,
    fileMatch: [fileMatch].flat().map((m) => (/^(\w+:\/\/|\/|!)/.test(m) ? m : `/${m}`)),
  }));
}

// The same entries as a yaml.schemas setting: schema uri -> the file patterns it applies to.
function schemasSetting() {
  const schemas = {};
  for (const { fileMatch, url } of manifest.contributes.yamlValidation) {
    const uri = pathToFileURL(path.resolve(extension, url)).href;
    schemas[uri] = [...(schemas[uri] ?? []), ...[fileMatch].flat()];
  }
  return schemas;
}

// The settings of the server's "yaml" section; no schema catalog from the network, so
// only the schema under test applies.
function yamlSettings(schemas) {
  return { yaml: { schemas, validate: true, completion: true, hover: true, schemaStore: { enable: false } } };
}

// A running server and the documents opened in it, under a temporary workspace folder.
class Workspace {
  static async start(settings, associate) {
    const ws = new Workspace();
    ws.folder = await fs.mkdtemp(path.join(os.tmpdir(), "akd-yamlls-"));
    ws.server = new LanguageServer(settings);
    await ws.server.request("initialize", initializeParams(pathToFileURL(ws.folder).href));
    ws.server.notify("initialized", {});
    // yaml-language-server 2 ignores the settings in this notification and asks for them
    // (workspace/configuration); they, and the associations, apply asynchronously. A document
    // with a mistake only the schema knows is revalidated once they do: start after that.
    const sentinel = path.join(ws.folder, "sentinel", "autokitteh.yaml");
    const ready = ws.server.diagnosticsOf(pathToFileURL(sentinel).href, (d) => d.some(fromSchema));
    ws.server.notify("workspace/didChangeConfiguration", { settings });
    associate(ws.server);
    await ws.open(sentinel, "version: v2\nproject:\n  name: sentinel\nextra: 1\n");
    await ready;
    return ws;
  }

  async stop() {
    await this.server.stop();
    await fs.rm(this.folder, { recursive: true, force: true });
  }

  // Opens `text` as the document `file`; resolves to the first diagnostics published for it.
  async open(file, text) {
    const uri = pathToFileURL(file).href;
    const published = this.server.diagnosticsOf(uri);
    const textDocument = { uri, languageId: "yaml", version: 1, text };
    this.server.notify("textDocument/didOpen", { textDocument });
    return { uri, diagnostics: await published };
  }

  // The same, as <folder>/<dir>/autokitteh.yaml written to disk, as an editor's file would be.
  async openScratch(dir, text) {
    const file = path.join(this.folder, dir, "autokitteh.yaml");
    await fs.mkdir(path.dirname(file), { recursive: true });
    await fs.writeFile(file, text);
    return this.open(file, text);
  }

  // The labels completion offers where `text` has its "|" (which is taken out).
  async completionAt(dir, text) {
    const lines = text.split("\n");
    const line = lines.findIndex((l) => l.includes("|"));
    const { uri } = await this.openScratch(dir, text.replace("|", ""));
    const position = { line, character: lines[line].indexOf("|") };
    const result = await this.server.request("textDocument/completion", { textDocument: { uri }, position });
    return (Array.isArray(result) ? result : result.items).map((item) => item.label);
  }

  async hover(file, position) {
    return this.server.request("textDocument/hover", { textDocument: { uri: pathToFileURL(file).href }, position });
  }
}

function initializeParams(folder) {
  return {
    processId: process.pid,
    rootUri: folder,
    workspaceFolders: [{ uri: folder, name: "work" }],
    capabilities: {
      workspace: { configuration: true, didChangeConfiguration: { dynamicRegistration: true } },
      textDocument: { completion: { completionItem: { snippetSupport: true } }, hover: { contentFormat: ["markdown"] } },
    },
  };
}

const HEAD = "version: v2\nproject:\n  name: demo\n  triggers:\n    - name: on_http\n";

// Each manifest has one mistake, on the line marked "# <-" (a YAML comment).
const MISTAKES = {
  "is_sync not a boolean": [`${HEAD}      type: webhook\n      is_sync: "maybe"  # <-\n`, /Expected "boolean"/],
  "unknown trigger key": [`${HEAD}      type: webhook\n      colour: red  # <-\n`, /colour is not allowed/],
  "unknown trigger type": [`${HEAD}      type: email  # <-\n      call: program.py:on_http\n`, /webhook.*schedule.*connection/],
  "call without a function": [`${HEAD}      type: webhook\n      call: program.py  # <-\n`, /pattern/],
  "unknown version": ["version: v3  # <-\nproject:\n  name: demo\n", /v1.*v2/],
};

async function exampleManifests() {
  const examples = path.join(root, "examples");
  const dirs = await fs.readdir(examples, { withFileTypes: true });
  const found = [];
  for (const d of dirs.filter((e) => e.isDirectory())) {
    const file = path.join(examples, d.name, "autokitteh.yaml");
    const text = await fs.readFile(file, "utf8").catch(() => undefined);
    if (text !== undefined) found.push([file, text]);
  }
  return found;
}

const ROUTES = {
  "json/schemaAssociations from contributes.yamlValidation (redhat.vscode-yaml)": [
    yamlSettings({}),
    // JSON-RPC reads an array of params as positional arguments: the one argument, the
    // list, goes inside an array (as vscode-languageclient sends it).
    (server) => server.notify("json/schemaAssociations", [associations()]),
  ],
  "the yaml.schemas setting": [yamlSettings(schemasSetting()), () => undefined],
};

for (const [route, [settings, associate]] of Object.entries(ROUTES)) {
  describe(`schema by ${route}`, () => {
    let ws;
    before(async () => (ws = await Workspace.start(settings, associate)));
    after(async () => ws?.stop());

    test("completion in a trigger item offers the schema's trigger keys not yet written", async () => {
      const labels = await ws.completionAt("keys", `${HEAD}      |\n`);
      for (const key of ["type", "call", "schedule", "event_type", "filter", "connection", "is_sync"]) {
        assert.ok(labels.includes(key), `${key} not offered: ${labels}`);
      }
      const expected = Object.keys(TRIGGER.properties).filter((k) => k !== "name");
      assert.deepEqual([...labels].sort(), expected.sort());
    });

    test("completion after type: offers the trigger types the schema allows", async () => {
      assert.deepEqual(TRIGGER.properties.type.enum, ["webhook", "schedule", "connection"]);
      const labels = await ws.completionAt("type", `${HEAD}      type: |\n`);
      assert.deepEqual([...labels].sort(), [...TRIGGER.properties.type.enum].sort());
    });

    test("completion after version: offers the manifest versions", async () => {
      const labels = await ws.completionAt("version", "version: |\nproject:\n  name: demo\n");
      assert.deepEqual([...labels].sort(), [...schema.properties.version.enum].sort());
    });

    test("a mistake in a manifest gets one schema error, on its line", async () => {
      assert.equal(TRIGGER.properties.is_sync.type, "boolean");
      assert.equal(TRIGGER.additionalProperties, false);
      for (const [what, [text, message]] of Object.entries(MISTAKES)) {
        const line = text.split("\n").findIndex((l) => l.endsWith("# <-"));
        const { diagnostics } = await ws.openScratch(what.replaceAll(" ", "_"), text);
        const shown = `${what}: ${JSON.stringify(diagnostics)}`;
        assert.equal(diagnostics.length, 1, shown);
        const [d] = diagnostics;
        assert.ok(fromSchema(d) && d.severity === 1, shown); // 1: an error
        assert.equal(d.range.start.line, line, shown);
        assert.match(d.message, message, shown);
      }
    });

    test("the example manifests get no diagnostics, and the schema applies to them", async () => {
      const examples = await exampleManifests();
      assert.ok(examples.length >= 3, `only ${examples.length} example manifests found`);
      for (const [file, text] of examples) assert.deepEqual((await ws.open(file, text)).diagnostics, [], file);
      // No diagnostics would also be what a file without a schema gets: the hover on hello's
      // trigger type must be the schema's description.
      const [hello, text] = examples.find(([file]) => file.endsWith(path.join("hello", "autokitteh.yaml")));
      const lines = text.split("\n");
      const line = lines.findIndex((l) => l.trim() === "type: webhook");
      const hover = await ws.hover(hello, { line, character: lines[line].indexOf("type") });
      assert.ok(JSON.stringify(hover?.contents ?? "").includes(TRIGGER.properties.type.description), JSON.stringify(hover));
    });
  });
}
