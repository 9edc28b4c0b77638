// The tree views: projects (deployments, triggers, connections) and sessions.

import * as vscode from "vscode";
import { Connection as Trg, Session, Trigger, isLive } from "./client";
import { Connection } from "./connection";

export type Node =
  | { kind: "message"; text: string }
  | { kind: "project"; name: string; active: string | null }
  | { kind: "group"; project: string; group: "deployments" | "triggers" | "connections" }
  | { kind: "deployment"; id: string; state: string; sessions: number }
  | { kind: "trigger"; project: string; trigger: Trigger }
  | { kind: "connection"; connection: Trg }
  | { kind: "session"; session: Session };

const SESSION_ICONS: Record<string, [string, string?]> = {
  created: ["circle-outline"],
  running: ["sync~spin", "charts.blue"],
  completed: ["pass", "charts.green"],
  error: ["error", "charts.red"],
  stopped: ["circle-slash", "charts.yellow"],
};
const CONNECTION_ICONS: Record<string, [string, string?]> = {
  ok: ["pass", "charts.green"],
  warning: ["warning", "charts.yellow"],
  error: ["error", "charts.red"],
  init_required: ["key", "charts.yellow"],
};

function icon([id, color]: [string, string?]): vscode.ThemeIcon {
  return new vscode.ThemeIcon(id, color ? new vscode.ThemeColor(color) : undefined);
}

abstract class Tree implements vscode.TreeDataProvider<Node> {
  private readonly changed = new vscode.EventEmitter<Node | undefined>();
  readonly onDidChangeTreeData = this.changed.event;

  constructor(protected readonly conn: Connection) {
    conn.onDidChange(() => this.refresh());
  }

  refresh(): void {
    this.changed.fire(undefined);
  }

  abstract getChildren(node?: Node): Promise<Node[]>;
  abstract getTreeItem(node: Node): vscode.TreeItem;

  /** Children from the daemon; a failure becomes one line in the view, never an exception. */
  protected async guarded(load: () => Promise<Node[]>): Promise<Node[]> {
    if (!this.conn.client) return []; // the view's welcome text explains and offers Connect / Start akd
    try {
      return await load(); // empty: the view's welcome text says what to do
    } catch (err) {
      return [{ kind: "message", text: err instanceof Error ? err.message : String(err) }];
    }
  }
}

export class ProjectsTree extends Tree {
  async getChildren(node?: Node): Promise<Node[]> {
    if (!node) return this.guarded(async () => (await this.conn.client!.projects()).map((p) => ({ kind: "project", name: p.name, active: p.active_deployment_id })));
    if (node.kind === "project") {
      return (["deployments", "triggers", "connections"] as const).map((group) => ({ kind: "group", project: node.name, group }));
    }
    if (node.kind !== "group") return [];
    const c = this.conn.client;
    return this.guarded(async () => {
      if (node.group === "deployments") {
        return (await c!.deployments(node.project)).map((d) => ({ kind: "deployment", id: d.deployment_id, state: d.state, sessions: d.session_count }));
      }
      if (node.group === "triggers") return (await c!.triggers(node.project)).map((t) => ({ kind: "trigger", project: node.project, trigger: t }));
      return (await c!.connections(node.project)).map((x) => ({ kind: "connection", connection: x }));
    });
  }

  getTreeItem(node: Node): vscode.TreeItem {
    const none = vscode.TreeItemCollapsibleState.None;
    switch (node.kind) {
      case "project": {
        const item = new vscode.TreeItem(node.name, vscode.TreeItemCollapsibleState.Collapsed);
        item.description = node.active ? `active ${node.active}` : "no active deployment";
        item.iconPath = new vscode.ThemeIcon("project");
        item.contextValue = "akd.project";
        return item;
      }
      case "group": {
        const item = new vscode.TreeItem(node.group, vscode.TreeItemCollapsibleState.Collapsed);
        item.id = `${node.project}/${node.group}`;
        return item;
      }
      case "deployment": {
        const item = new vscode.TreeItem(node.id, none);
        item.description = `${node.state} · ${node.sessions} sessions`;
        item.iconPath = new vscode.ThemeIcon(node.state === "active" ? "rocket" : "archive");
        item.contextValue = `akd.deployment.${node.state}`;
        return item;
      }
      case "trigger":
        return triggerItem(node.project, node.trigger);
      case "connection": {
        const x = node.connection;
        const item = new vscode.TreeItem(x.name, none);
        item.description = `${x.integration} · ${x.status}`;
        item.tooltip = x.status_message || x.status;
        item.iconPath = icon(CONNECTION_ICONS[x.status] ?? ["plug"]);
        item.contextValue = "akd.connection";
        return item;
      }
      default:
        return messageItem(node);
    }
  }
}

function triggerItem(project: string, t: Trigger): vscode.TreeItem {
  const item = new vscode.TreeItem(t.name, vscode.TreeItemCollapsibleState.None);
  const detail = t.type === "webhook" ? t.webhook_url ?? "" : t.type === "schedule" ? t.schedule ?? "" : t.event_type ?? "";
  item.description = `${t.type}${detail ? ` · ${detail}` : ""}`;
  const next = t.next_fire_times?.length ? `\nnext: ${t.next_fire_times.join(", ")}` : "";
  item.tooltip = `${project}/${t.name} → ${t.call ?? "(no call: subscribe only)"}${next}`;
  if (t.type === "schedule" && t.next_fire_times?.length) item.description += ` · next ${t.next_fire_times[0]}`;
  item.iconPath = new vscode.ThemeIcon(t.type === "webhook" ? "globe" : t.type === "schedule" ? "clock" : "plug");
  item.contextValue = `akd.trigger.${t.type}`;
  return item;
}

function messageItem(node: Node): vscode.TreeItem {
  const item = new vscode.TreeItem(node.kind === "message" ? node.text : "", vscode.TreeItemCollapsibleState.None);
  item.iconPath = new vscode.ThemeIcon("info");
  return item;
}

export class SessionsTree extends Tree {
  getChildren(node?: Node): Promise<Node[]> {
    if (node) return Promise.resolve([]);
    return this.guarded(async () => (await this.conn.client!.sessions({ limit: 50 })).map((s) => ({ kind: "session", session: s })));
  }

  getTreeItem(node: Node): vscode.TreeItem {
    if (node.kind !== "session") return messageItem(node);
    const s = node.session;
    const item = new vscode.TreeItem(`${s.project} · ${s.entrypoint}`, vscode.TreeItemCollapsibleState.None);
    item.description = `${s.state} · ${s.session_id}`;
    item.tooltip = `${s.session_id}\n${s.state} since ${s.updated_at}${s.error ? `\n${s.error.type}: ${s.error.message}` : ""}`;
    item.iconPath = icon(SESSION_ICONS[s.state] ?? ["question"]);
    item.contextValue = isLive(s.state) ? "akd.session.live" : "akd.session.done";
    item.command = { command: "akd.openSession", title: "Open", arguments: [node] };
    return item;
  }
}
