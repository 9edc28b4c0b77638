// "Init connection" and "Copy webhook URL": what the editor asks and shows around the
// daemon's calls (the calls themselves are in client.ts, tested against a real akd).

import * as vscode from "vscode";
import { AuthMode, AuthVar, Client, Connection, OAuthOutcome, Trigger } from "./client";

const OAUTH_POLL_MS = 1000;

/** Pick an auth mode; then either its vars (the daemon stores and tests them) or an OAuth
 * authorization in the browser, waited for until the browser comes back to akd. */
export async function initConnection(c: Client, conn: Connection): Promise<void> {
  const label = `${conn.project}/${conn.name}`;
  const ref = `${encodeURIComponent(conn.project)}/${encodeURIComponent(conn.name)}`;
  const mode = await pickMode(label, (await c.integration(conn.integration)).auth_modes);
  if (!mode) return;
  if (mode.oauth) return authorize(c, ref, label);
  const vars = await askVars(label, mode.vars);
  if (!vars) return;
  const result = await vscode.window.withProgress(
    { location: vscode.ProgressLocation.Notification, title: `akd: storing and testing ${label}` },
    () => c.initConnection(ref, mode.auth_type, vars),
  );
  tell(result.ok, `akd: ${label} is ${result.status}${result.message ? `: ${result.message}` : ""}`);
}

async function pickMode(label: string, modes: AuthMode[]): Promise<AuthMode | undefined> {
  if (modes.length === 1) return modes[0];
  const items = modes.map((m) => ({ label: m.label, description: m.oauth ? "OAuth, in the browser" : m.auth_type, m }));
  return (await vscode.window.showQuickPick(items, { placeHolder: `How to connect ${label}` }))?.m;
}

/** One input box per var, as `akctl connection init` asks them; undefined when one is
 * dismissed, so a half-entered mode is never stored. */
async function askVars(label: string, defs: AuthVar[]): Promise<Record<string, string> | undefined> {
  const vars: Record<string, string> = {};
  for (const v of defs) {
    const value = await vscode.window.showInputBox({
      title: `${label}: ${v.name}${v.optional ? " (optional)" : ""}`,
      prompt: v.optional ? `${v.prompt} (empty: not set)` : v.prompt,
      password: v.secret,
      ignoreFocusOut: true, // fetching a token from a browser must not dismiss the prompt
      validateInput: (text) => (text || v.optional ? undefined : `${v.name} is required`),
    });
    if (value === undefined) return undefined;
    if (value) vars[v.name] = value;
  }
  return vars;
}

/** Open the daemon's authorization URL (the vendor's page, which sends the browser back to
 * akd's callback) and wait for akd to record how it went. */
async function authorize(c: Client, ref: string, label: string): Promise<void> {
  const started = await c.startOAuth(ref);
  if (!(await vscode.env.openExternal(vscode.Uri.parse(started.authorize_url, true)))) {
    void vscode.window.showWarningMessage(`akd: the browser did not open; authorize ${label} at ${started.authorize_url}`);
  }
  const found = await vscode.window.withProgress(
    { location: vscode.ProgressLocation.Notification, title: `akd: waiting for the authorization of ${label} in the browser`, cancellable: true },
    (_, cancel) => waitOutcome(c, ref, started.state, cancel),
  );
  if (found) tell(found.outcome === "ok", `akd: ${label}: ${found.connection ? `${found.connection.status}, ` : ""}${found.message}`);
}

/** Poll until the outcome is not "pending" (the daemon fails it when the state expires). */
async function waitOutcome(c: Client, ref: string, state: string, cancel: vscode.CancellationToken): Promise<OAuthOutcome | undefined> {
  for (;;) {
    const found = await c.oauthOutcome(ref, state);
    if (found.outcome !== "pending") return found;
    await new Promise((done) => setTimeout(done, OAUTH_POLL_MS));
    if (cancel.isCancellationRequested) return undefined;
  }
}

/** Copy a webhook trigger's URL; the message shows it too (a browser may refuse the clipboard). */
export async function copyWebhookUrl(t: Trigger): Promise<void> {
  if (!t.webhook_url) throw new Error(`${t.name} is a ${t.type} trigger: it has no webhook URL`);
  await vscode.env.clipboard.writeText(t.webhook_url);
  void vscode.window.showInformationMessage(`akd: copied ${t.webhook_url}`);
}

function tell(ok: boolean, message: string): void {
  void (ok ? vscode.window.showInformationMessage(message) : vscode.window.showWarningMessage(message));
}
