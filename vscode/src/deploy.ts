// Deploy a folder, show build errors as diagnostics, redeploy on save (`akctl dev` in the editor).

import * as path from "node:path";
import * as vscode from "vscode";
import { AkdError, MANIFEST, hasManifest, problemsOf } from "./client";
import { Connection, settings } from "./connection";

export class Deployer implements vscode.Disposable {
  readonly diagnostics = vscode.languages.createDiagnosticCollection("akd");
  private readonly output = vscode.window.createOutputChannel("akd");
  private readonly pending = new Map<string, Promise<boolean>>();

  constructor(private readonly conn: Connection, private readonly afterDeploy: () => void) {}

  /** Deploy `dir`; true when it went live. Problems become diagnostics, other failures a message. */
  async deploy(dir: string, quiet = false): Promise<boolean> {
    const running = this.pending.get(dir);
    if (running) return running;
    const job = this.run(dir, quiet).finally(() => this.pending.delete(dir));
    this.pending.set(dir, job);
    return job;
  }

  private async run(dir: string, quiet: boolean): Promise<boolean> {
    if (!(await hasManifest(dir))) {
      void vscode.window.showErrorMessage(`${dir} has no ${MANIFEST}: "Deploy this folder" needs a project folder with one`);
      return false;
    }
    const client = await this.conn.require();
    if (!client) return false;
    try {
      const result = await vscode.window.withProgress(
        { location: quiet ? vscode.ProgressLocation.Window : vscode.ProgressLocation.Notification, title: `akd: deploying ${path.basename(dir)}...` },
        () => client.deploy(dir),
      );
      this.clear(dir);
      this.output.appendLine(`deployed ${dir}: ${result.deployment_id} (build ${result.build_id})`);
      for (const [name, url] of Object.entries(result.webhooks)) this.output.appendLine(`  webhook ${name}: ${url}`);
      if (!quiet) void vscode.window.showInformationMessage(`akd: deployed ${path.basename(dir)} as ${result.deployment_id}`);
      this.afterDeploy();
      return true;
    } catch (err) {
      this.report(dir, err);
      return false;
    }
  }

  private report(dir: string, err: unknown): void {
    const problems = problemsOf(err, dir);
    this.clear(dir);
    for (const p of problems) {
      const uri = vscode.Uri.file(p.file);
      const range = new vscode.Range(p.line, p.column, p.line, Number.MAX_SAFE_INTEGER);
      const diag = new vscode.Diagnostic(range, p.message, vscode.DiagnosticSeverity.Error);
      diag.source = "akd";
      this.diagnostics.set(uri, [...(this.diagnostics.get(uri) ?? []), diag]);
    }
    const message = err instanceof Error ? err.message : String(err);
    this.output.appendLine(`deploy of ${dir} failed: ${message}`);
    if (problems.length === 0 && err instanceof AkdError && err.kind !== "api") void this.conn.connect().then(() => this.conn.explain());
    else void vscode.window.showErrorMessage(`akd: deploy failed: ${message}`);
  }

  /** Forget earlier diagnostics of files in `dir`. */
  private clear(dir: string): void {
    const prefix = path.resolve(dir) + path.sep;
    this.diagnostics.forEach((uri) => {
      if (uri.fsPath.startsWith(prefix)) this.diagnostics.delete(uri);
    });
  }

  /** The project folder a saved file belongs to: the nearest ancestor with a manifest. */
  async projectOf(file: string): Promise<string | undefined> {
    let dir = path.dirname(file);
    const top = vscode.workspace.getWorkspaceFolder(vscode.Uri.file(file))?.uri.fsPath ?? path.parse(dir).root;
    for (;;) {
      if (await hasManifest(dir)) return dir;
      if (dir === top || path.dirname(dir) === dir) return undefined;
      dir = path.dirname(dir);
    }
  }

  async onSave(doc: vscode.TextDocument): Promise<void> {
    if (!settings().deployOnSave || doc.uri.scheme !== "file") return;
    const dir = await this.projectOf(doc.uri.fsPath);
    if (dir) await this.deploy(dir, true);
  }

  dispose(): void {
    this.diagnostics.dispose();
    this.output.dispose();
  }
}
