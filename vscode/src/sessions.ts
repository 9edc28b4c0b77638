// Sessions as read-only documents (`akd-session:/<id>.log`): live prints, the step timeline,
// the error with traceback frames that link into the project's files.

import * as path from "node:path";
import * as vscode from "vscode";
import { Client, isLive, renderSession, tracebackFrames } from "./client";
import { Connection } from "./connection";

export const SCHEME = "akd-session";

export function sessionUri(id: string): vscode.Uri {
  return vscode.Uri.from({ scheme: SCHEME, path: `/${id}.log` });
}

function idOf(uri: vscode.Uri): string {
  return path.posix.basename(uri.path, ".log");
}

export class SessionDocuments implements vscode.TextDocumentContentProvider, vscode.DocumentLinkProvider, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<vscode.Uri>();
  readonly onDidChange = this.changed.event;
  /** Project root of each open session, for the traceback links. */
  private readonly roots = new Map<string, string>();
  private readonly live = new Set<string>();
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly conn: Connection, private readonly refreshMs: () => number) {}

  async provideTextDocumentContent(uri: vscode.Uri): Promise<string> {
    const client = this.conn.client;
    const id = idOf(uri);
    if (!client) return `akd is not connected: ${this.conn.problem?.message ?? "run akd: Connect"}\n`;
    try {
      return await this.render(client, id);
    } catch (err) {
      return `session ${id}: ${err instanceof Error ? err.message : String(err)}\n`;
    }
  }

  private async render(client: Client, id: string): Promise<string> {
    const [s, prints, log] = await Promise.all([client.session(id), client.prints(id), client.log(id)]);
    if (!this.roots.has(id)) {
      const project = await client.project(s.project).catch(() => undefined);
      if (project?.root_dir) this.roots.set(id, project.root_dir);
    }
    if (isLive(s.state)) this.watch(id);
    else this.live.delete(id);
    return renderSession(s, prints.prints, log.records);
  }

  /** Refresh open live sessions until they end. */
  private watch(id: string): void {
    this.live.add(id);
    if (this.timer) return;
    this.timer = setInterval(() => {
      if (this.live.size === 0) {
        clearInterval(this.timer);
        this.timer = undefined;
        return;
      }
      for (const sid of this.live) this.changed.fire(sessionUri(sid));
    }, this.refreshMs());
  }

  provideDocumentLinks(doc: vscode.TextDocument): vscode.DocumentLink[] {
    const root = this.roots.get(idOf(doc.uri));
    if (!root) return [];
    const links: vscode.DocumentLink[] = [];
    const text = doc.getText();
    const frames = tracebackFrames(text);
    let from = 0;
    for (const f of frames) {
      const needle = `File "${f.file}", line ${f.line}`;
      const at = text.indexOf(needle, from);
      if (at < 0) continue;
      from = at + needle.length;
      const range = new vscode.Range(doc.positionAt(at), doc.positionAt(from));
      const target = vscode.Uri.file(path.resolve(root, f.file)).with({ fragment: `L${f.line}` });
      links.push(new vscode.DocumentLink(range, target));
    }
    return links;
  }

  async open(id: string): Promise<void> {
    const doc = await vscode.workspace.openTextDocument(sessionUri(id));
    await vscode.window.showTextDocument(doc, { preview: false });
  }

  refresh(id: string): void {
    this.changed.fire(sessionUri(id));
  }

  dispose(): void {
    if (this.timer) clearInterval(this.timer);
    this.changed.dispose();
  }
}
