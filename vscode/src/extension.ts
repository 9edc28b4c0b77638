// akd inside VS Code: activation wires the connection, views, commands and providers.

import { promises as fs } from "node:fs";
import * as path from "node:path";
import * as vscode from "vscode";
import { AkdError, Client, Connection as AkdConnection, MANIFEST, Session, Trigger, manifestProjectName } from "./client";
import { Connection, settings } from "./connection";
import { Deployer } from "./deploy";
import { copyWebhookUrl, initConnection } from "./init";
import { EntryLenses, ManifestLenses, gotoCall } from "./lenses";
import { SCHEME, SessionDocuments } from "./sessions";
import { Node, ProjectsTree, SessionsTree } from "./trees";

export async function activate(context: vscode.ExtensionContext): Promise<void> {
  const conn = new Connection();
  const projects = new ProjectsTree(conn);
  const sessions = new SessionsTree(conn);
  const docs = new SessionDocuments(conn, () => settings().refreshSeconds * 1000);
  const refreshAll = (): void => {
    projects.refresh();
    sessions.refresh();
  };
  const deployer = new Deployer(conn, refreshAll);
  const timer = setInterval(() => {
    if (!conn.client) return;
    sessions.refresh();
    void conn.heartbeat();
  }, settings().refreshSeconds * 1000);

  context.subscriptions.push(
    conn,
    docs,
    deployer,
    { dispose: () => clearInterval(timer) },
    vscode.window.registerTreeDataProvider("akd.projects", projects),
    vscode.window.registerTreeDataProvider("akd.sessions", sessions),
    vscode.workspace.registerTextDocumentContentProvider(SCHEME, docs),
    vscode.languages.registerDocumentLinkProvider({ scheme: SCHEME }, docs),
    vscode.languages.registerCodeLensProvider({ scheme: "file", pattern: `**/${MANIFEST}` }, new ManifestLenses()),
    vscode.languages.registerCodeLensProvider({ scheme: "file", language: "python" }, new EntryLenses((f) => deployer.projectOf(f))),
    vscode.workspace.onDidSaveTextDocument((doc) => deployer.onSave(doc)),
    vscode.workspace.onDidChangeConfiguration((e) => e.affectsConfiguration("akd") && void conn.connect()),
    ...commands(conn, deployer, docs, refreshAll),
  );
  // A project is open but no daemon runs: offer to start one (the welcome view offers it too).
  if (!(await conn.connect()) && conn.problem?.kind === "not_running" && (await vscode.workspace.findFiles(`**/${MANIFEST}`, "**/node_modules/**", 1)).length) {
    void conn.explain();
  }
}

export function deactivate(): void {}

type Handler = (...args: never[]) => unknown;

function commands(conn: Connection, deployer: Deployer, docs: SessionDocuments, refreshAll: () => void): vscode.Disposable[] {
  const withClient =
    <A extends unknown[]>(fn: (c: Client, ...args: A) => Promise<unknown>) =>
    async (...args: A): Promise<void> => {
      const c = await conn.require();
      if (!c) return;
      try {
        await fn(c, ...args);
      } catch (err) {
        void vscode.window.showErrorMessage(`akd: ${err instanceof Error ? err.message : String(err)}`);
        if (err instanceof AkdError && err.kind !== "api") await conn.connect();
      }
    };
  const table: Record<string, Handler> = {
    "akd.connect": async () => {
      if (await conn.connect()) void vscode.window.showInformationMessage(`akd: connected to ${conn.client!.url} (akd ${conn.health!.version})`);
      else await conn.explain();
    },
    "akd.startDaemon": () => conn.startDaemon(),
    "akd.refresh": async () => {
      await conn.connect();
      refreshAll();
    },
    "akd.deployFolder": async (uri?: vscode.Uri) => {
      const dir = await pickFolder(uri);
      if (dir) await deployer.deploy(dir);
    },
    "akd.toggleDeployOnSave": async () => {
      const cfg = vscode.workspace.getConfiguration("akd");
      const next = !cfg.get<boolean>("deployOnSave", false);
      await cfg.update("deployOnSave", next, vscode.ConfigurationTarget.Workspace);
      void vscode.window.showInformationMessage(`akd: deploy on save is ${next ? "on" : "off"}`);
    },
    "akd.openSession": withClient(async (c, node?: Node) => {
      const id = await sessionIdOf(c, node);
      if (id) await docs.open(id);
    }),
    "akd.stopSession": withClient(async (c, node?: Node) => {
      const id = await sessionIdOf(c, node);
      if (!id) return;
      await c.stop(id);
      docs.refresh(id);
      refreshAll();
    }),
    "akd.restartSession": withClient(async (c, node?: Node) => {
      const id = await sessionIdOf(c, node);
      if (!id) return;
      const started = await c.restart(id);
      refreshAll();
      await docs.open(started.session_id);
    }),
    "akd.rerunSession": withClient(async (c, node?: Node) => {
      const id = await sessionIdOf(c, node);
      if (!id) return;
      const ev = await c.rerun(await c.session(id));
      refreshAll();
      if (ev.session_ids[0]) await docs.open(ev.session_ids[0]);
    }),
    "akd.sendTestEvent": withClient(async (c, node?: Node) => {
      const t = node?.kind === "trigger" ? { project: node.project, trigger: node.trigger } : await pickTrigger(c);
      if (t) await sendTestEvent(c, t.project, t.trigger, docs, refreshAll);
    }),
    "akd.copyWebhookUrl": withClient(async (c, node?: Node) => {
      const t = node?.kind === "trigger" ? node.trigger : (await pickTrigger(c, "webhook"))?.trigger;
      if (t) await copyWebhookUrl(t);
    }),
    "akd.initConnection": withClient(async (c, node?: Node) => {
      const x = node?.kind === "connection" ? node.connection : await pickConnection(c);
      if (!x) return;
      await initConnection(c, x);
      refreshAll();
    }),
    "akd.startEntry": withClient(async (c, dir: string, entrypoint: string) => {
      const name = manifestProjectName(await fs.readFile(path.join(dir, MANIFEST), "utf8"));
      if (!name) throw new AkdError(`${path.join(dir, MANIFEST)} has no project.name`, "api");
      const started = await c.startSession(name, entrypoint);
      refreshAll();
      await docs.open(started.session_id);
    }),
    "akd.gotoCall": (file: string, func: string) => gotoCall(file, func),
  };
  return Object.entries(table).map(([name, fn]) => vscode.commands.registerCommand(name, fn as (...a: unknown[]) => unknown));
}

async function pickFolder(uri?: vscode.Uri): Promise<string | undefined> {
  if (uri?.scheme === "file") return uri.fsPath;
  const folders = vscode.workspace.workspaceFolders ?? [];
  if (folders.length === 1) return folders[0].uri.fsPath;
  const picked = await vscode.window.showOpenDialog({ canSelectFolders: true, canSelectFiles: false, openLabel: "Deploy" });
  return picked?.[0]?.fsPath;
}

async function sessionIdOf(c: Client, node?: Node): Promise<string | undefined> {
  if (node?.kind === "session") return node.session.session_id;
  const recent = await c.sessions({ limit: 50 });
  const pick = await vscode.window.showQuickPick(
    recent.map((s: Session) => ({ label: `${s.project} · ${s.entrypoint}`, description: `${s.state} · ${s.session_id}`, id: s.session_id })),
    { placeHolder: "Session" },
  );
  return pick?.id;
}

async function pickTrigger(c: Client, type?: string): Promise<{ project: string; trigger: Trigger } | undefined> {
  const all = (await c.get<Trigger[]>("/triggers")).filter((t) => !type || t.type === type);
  if (!all.length) throw new AkdError(type ? `no ${type} triggers in any project` : "no triggers in any project", "api");
  const pick = await vscode.window.showQuickPick(
    all.map((t) => ({ label: `${t.project}/${t.name}`, description: t.webhook_url ?? t.type, t })),
    { placeHolder: type ? `Trigger (${type})` : "Trigger to send a test event to" },
  );
  return pick ? { project: pick.t.project ?? "", trigger: pick.t } : undefined;
}

async function pickConnection(c: Client): Promise<AkdConnection | undefined> {
  const all = await c.get<AkdConnection[]>("/connections");
  if (!all.length) throw new AkdError("no connections in any project: declare one in autokitteh.yaml and deploy", "api");
  const items = all.map((x) => ({ label: `${x.project}/${x.name}`, description: `${x.integration} · ${x.status}`, x }));
  return (await vscode.window.showQuickPick(items, { placeHolder: "Connection to init" }))?.x;
}

async function sendTestEvent(c: Client, project: string, t: Trigger, docs: SessionDocuments, refreshAll: () => void): Promise<void> {
  const text = await vscode.window.showInputBox({
    title: `Test event for ${project}/${t.name}`,
    prompt: "The event's data, as a JSON object",
    value: "{}",
    validateInput: (v) => {
      try {
        const parsed = JSON.parse(v);
        return parsed && typeof parsed === "object" && !Array.isArray(parsed) ? undefined : "expected a JSON object";
      } catch (err) {
        return `not JSON: ${(err as Error).message}`;
      }
    },
  });
  if (text === undefined) return;
  const ev = await c.dispatch(project, t.name, JSON.parse(text), t.event_type ?? "");
  refreshAll();
  if (ev.session_ids.length) await docs.open(ev.session_ids[0]);
  else void vscode.window.showInformationMessage(`akd: event ${ev.event_id} stored; it started no session`);
}
