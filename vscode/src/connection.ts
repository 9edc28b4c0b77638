// The link to the daemon: find it, check it, show it in the status bar, offer to start it.

import { execFile } from "node:child_process";
import * as vscode from "vscode";
import { AkdError, Client, Health, Settings, defaultDataDir, locate } from "./client";

export function settings(): Settings & { akctlPath: string; deployOnSave: boolean; refreshSeconds: number } {
  const c = vscode.workspace.getConfiguration("akd");
  return {
    url: c.get<string>("url", ""),
    token: c.get<string>("token", ""),
    dataDir: c.get<string>("dataDir", ""),
    akctlPath: c.get<string>("akctlPath", "akctl"),
    deployOnSave: c.get<boolean>("deployOnSave", false),
    refreshSeconds: Math.max(1, c.get<number>("refreshSeconds", 3)),
  };
}

export class Connection implements vscode.Disposable {
  client: Client | undefined;
  health: Health | undefined;
  problem: AkdError | undefined;
  private readonly item = vscode.window.createStatusBarItem(vscode.StatusBarAlignment.Left, 50);
  private readonly changed = new vscode.EventEmitter<void>();
  readonly onDidChange = this.changed.event;

  constructor() {
    this.item.command = "akd.connect";
    this.item.text = "$(sync~spin) akd: connecting...";
    this.item.show();
  }

  /** Find and check the daemon; on failure keep the reason for the views and the status bar. */
  async connect(): Promise<Client | undefined> {
    try {
      const where = await locate(settings());
      const client = new Client(where.url, where.token);
      this.health = await client.check();
      this.client = client;
      this.problem = undefined;
    } catch (err) {
      this.client = undefined;
      this.health = undefined;
      this.problem = err instanceof AkdError ? err : new AkdError(String(err), "api");
    }
    void vscode.commands.executeCommand("setContext", "akd.connected", this.client !== undefined);
    this.show();
    this.changed.fire();
    return this.client;
  }

  /** The client, connecting first; tells the user why not (and offers to start akd) when it fails. */
  async require(): Promise<Client | undefined> {
    const client = this.client ?? (await this.connect());
    if (!client) await this.explain();
    return client;
  }

  /** A cheap liveness check for the refresh timer: a daemon that went away shows at once. */
  async heartbeat(): Promise<void> {
    if (!this.client) return;
    try {
      this.health = await this.client.get<Health>("/health");
      this.show();
    } catch {
      await this.connect();
    }
  }

  async explain(): Promise<void> {
    const p = this.problem;
    if (!p) return;
    if (p.kind === "not_running") {
      const pick = await vscode.window.showWarningMessage(p.message, "Start akd", "Settings");
      if (pick === "Start akd") await this.startDaemon();
      if (pick === "Settings") await vscode.commands.executeCommand("workbench.action.openSettings", "akd.");
    } else if (p.kind === "unauthenticated") {
      const pick = await vscode.window.showErrorMessage(p.message, "Settings");
      if (pick) await vscode.commands.executeCommand("workbench.action.openSettings", "akd.token");
    } else {
      void vscode.window.showErrorMessage(p.message);
    }
  }

  /** `akctl up --detach` with the configured data dir, then connect. */
  async startDaemon(): Promise<void> {
    const s = settings();
    const args = ["up", "--detach", "--data-dir", defaultDataDir(s)];
    await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: "Starting akd (akctl up --detach)..." },
      () =>
        new Promise<void>((resolve) => {
          execFile(s.akctlPath, args, { timeout: 180_000 }, (err, _out, stderr) => {
            if (err) void vscode.window.showErrorMessage(`akctl up failed: ${(stderr || err.message).trim()}`);
            resolve();
          });
        }),
    );
    await this.connect();
    if (this.client) void vscode.window.showInformationMessage(`akd is running at ${this.client.url}`);
  }

  private show(): void {
    if (this.client && this.health) {
      const degraded = this.health.status !== "ok";
      this.item.text = `$(${degraded ? "warning" : "zap"}) akd ${this.health.version}${degraded ? " (degraded)" : ""}`;
      this.item.tooltip = `${this.client.url}\nTemporal: ${this.health.temporal}, runners: ${this.health.runners}`;
      this.item.backgroundColor = degraded ? new vscode.ThemeColor("statusBarItem.warningBackground") : undefined;
    } else {
      this.item.text = "$(debug-disconnect) akd: not connected";
      this.item.tooltip = this.problem?.message ?? "Click to connect";
      this.item.backgroundColor = this.problem ? new vscode.ThemeColor("statusBarItem.errorBackground") : undefined;
    }
  }

  dispose(): void {
    this.item.dispose();
    this.changed.dispose();
  }
}
