// Code lenses: on a manifest's `call:` lines (go to the function) and on entry functions
// in Python files (start a session of that function).

import { promises as fs } from "node:fs";
import * as path from "node:path";
import * as vscode from "vscode";
import { MANIFEST, functionLine, manifestCalls } from "./client";

export class ManifestLenses implements vscode.CodeLensProvider {
  provideCodeLenses(doc: vscode.TextDocument): vscode.CodeLens[] {
    const dir = path.dirname(doc.uri.fsPath);
    return manifestCalls(doc.getText()).map((site) => {
      const range = new vscode.Range(site.line, 0, site.line, 0);
      return new vscode.CodeLens(range, {
        title: `$(symbol-function) go to ${site.func}`,
        command: "akd.gotoCall",
        arguments: [path.join(dir, site.file), site.func],
      });
    });
  }
}

export class EntryLenses implements vscode.CodeLensProvider {
  constructor(private readonly projectOf: (file: string) => Promise<string | undefined>) {}

  async provideCodeLenses(doc: vscode.TextDocument): Promise<vscode.CodeLens[]> {
    const dir = await this.projectOf(doc.uri.fsPath);
    if (!dir) return [];
    const manifest = await fs.readFile(path.join(dir, MANIFEST), "utf8").catch(() => "");
    const rel = path.relative(dir, doc.uri.fsPath).split(path.sep).join("/");
    const text = doc.getText();
    const seen = new Set<string>();
    const lenses: vscode.CodeLens[] = [];
    for (const site of manifestCalls(manifest)) {
      if (site.file.replace(/^\.\//, "") !== rel || seen.has(site.func)) continue;
      seen.add(site.func);
      const line = functionLine(text, site.func);
      if (line < 0) continue;
      lenses.push(
        new vscode.CodeLens(new vscode.Range(line, 0, line, 0), {
          title: `$(play) start a session (trigger ${site.trigger})`,
          command: "akd.startEntry",
          arguments: [dir, `${site.file}:${site.func}`],
        }),
      );
    }
    return lenses;
  }
}

export async function gotoCall(file: string, func: string): Promise<void> {
  const doc = await vscode.workspace.openTextDocument(vscode.Uri.file(file)).then(undefined, () => undefined);
  if (!doc) {
    void vscode.window.showErrorMessage(`${file} does not exist (named by a call: in ${MANIFEST})`);
    return;
  }
  const line = functionLine(doc.getText(), func);
  const editor = await vscode.window.showTextDocument(doc);
  if (line < 0) {
    void vscode.window.showWarningMessage(`no top-level function ${func} in ${path.basename(file)}`);
    return;
  }
  const pos = new vscode.Position(line, 0);
  editor.selection = new vscode.Selection(pos, pos);
  editor.revealRange(new vscode.Range(pos, pos), vscode.TextEditorRevealType.InCenter);
}
