// The extension's client layer: finding akd, calling its HTTP API, turning its answers
// into what the editor shows. Nothing here imports `vscode`, so the node test runner
// exercises it against a real akd (test/client.test.mjs).

import { promises as fs } from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

/** The API this extension speaks: the path prefix, and the akd versions known to serve it. */
export const API_PREFIX = "/api/v1";
export const SUPPORTED_AKD = { min: "0.1.0", belowMajor: 1 };
export const START_HINT = "start it with: akctl up --detach";

/** Why a call failed, in words the editor shows as they are. */
export type FailureKind = "not_running" | "unauthenticated" | "incompatible" | "timeout" | "api";

export class AkdError extends Error {
  constructor(
    message: string,
    readonly kind: FailureKind,
    readonly code: string = "",
    readonly status: number = 0,
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = "AkdError";
  }
}

export interface Settings {
  url?: string;
  token?: string;
  dataDir?: string;
}

export interface Location {
  url: string;
  token: string;
  dataDir: string;
  /** Where the URL came from: "settings", "AKD_URL" or the daemon.json path. */
  source: string;
}

// -- discovery -----------------------------------------------------------------------

/** akctl's data dir: the setting, `$AKD_DATA_DIR`, else `$XDG_DATA_HOME/akd` (`~/.local/share/akd`). */
export function defaultDataDir(settings: Settings = {}, env: NodeJS.ProcessEnv = process.env): string {
  const chosen = settings.dataDir || env.AKD_DATA_DIR;
  if (chosen) return expandHome(chosen);
  const xdg = env.XDG_DATA_HOME || path.join(os.homedir(), ".local", "share");
  return path.join(expandHome(xdg), "akd");
}

function expandHome(p: string): string {
  return p === "~" || p.startsWith("~/") ? path.join(os.homedir(), p.slice(1)) : p;
}

async function readText(file: string): Promise<string | undefined> {
  try {
    return await fs.readFile(file, "utf8");
  } catch {
    return undefined;
  }
}

/** A daemon announced in a data dir by its `daemon.json` (`{"url", "pid", "temporal_address"}`). */
export async function daemonInDataDir(dataDir: string): Promise<Location | undefined> {
  const file = path.join(dataDir, "daemon.json");
  const raw = await readText(file);
  if (raw === undefined) return undefined;
  let info: { url?: unknown };
  try {
    info = JSON.parse(raw);
  } catch {
    return undefined;
  }
  if (typeof info.url !== "string" || !info.url) return undefined;
  const token = ((await readText(path.join(dataDir, "token"))) ?? "").trim();
  return { url: info.url.replace(/\/+$/, ""), token, dataDir, source: file };
}

/**
 * Every place a daemon may be announced, best first: the data dir's `daemon.json` today.
 * This is where akctl's registry of running daemons will be read once it exists: add its
 * entries after the data dir's own.
 */
export async function daemonCandidates(dataDir: string): Promise<Location[]> {
  const found = await daemonInDataDir(dataDir);
  return found ? [found] : [];
}

/**
 * Find the daemon the way akctl does: the URL and token settings, else `AKD_URL`/`AKD_TOKEN`,
 * else `daemon.json` and `token` in the data dir. A token given explicitly always wins.
 */
export async function locate(settings: Settings = {}, env: NodeJS.ProcessEnv = process.env): Promise<Location> {
  const dataDir = defaultDataDir(settings, env);
  const explicitToken = settings.token || env.AKD_TOKEN || "";
  const explicitUrl = settings.url ? ["settings", settings.url] : env.AKD_URL ? ["AKD_URL", env.AKD_URL] : undefined;
  if (explicitUrl) {
    const fileToken = ((await readText(path.join(dataDir, "token"))) ?? "").trim();
    return { url: explicitUrl[1].replace(/\/+$/, ""), token: explicitToken || fileToken, dataDir, source: explicitUrl[0] };
  }
  const [first] = await daemonCandidates(dataDir);
  if (!first) {
    throw new AkdError(`akd is not running (no ${path.join(dataDir, "daemon.json")}); ${START_HINT}`, "not_running");
  }
  return explicitToken ? { ...first, token: explicitToken } : first;
}

// -- versions ------------------------------------------------------------------------

export function parseVersion(v: string): number[] {
  const m = /^v?(\d+)\.(\d+)\.(\d+)/.exec(v.trim());
  return m ? [Number(m[1]), Number(m[2]), Number(m[3])] : [];
}

function compare(a: number[], b: number[]): number {
  for (let i = 0; i < 3; i++) if (a[i] !== b[i]) return a[i] - b[i];
  return 0;
}

/** Why the daemon at `url` reporting `version` cannot be used, or "" when it can. */
export function incompatibility(version: string, url: string, supported = SUPPORTED_AKD): string {
  const v = parseVersion(version);
  const wanted = `akd ${supported.min} up to (not including) ${supported.belowMajor}.0.0`;
  if (v.length === 0) return `akd at ${url} reports version ${JSON.stringify(version)}; this extension needs ${wanted}`;
  if (compare(v, parseVersion(supported.min)) < 0) {
    return `akd at ${url} is version ${version}, older than this extension supports (${wanted}); upgrade akd`;
  }
  if (v[0] >= supported.belowMajor) {
    return `akd at ${url} is version ${version}, newer than this extension supports (${wanted}); update the extension`;
  }
  return "";
}

// -- the API client ------------------------------------------------------------------

export interface Health {
  status: string;
  version: string;
  pid: number;
  uptime: number;
  temporal: string;
  runners: number;
}

export interface CallOptions {
  body?: unknown;
  query?: Record<string, string | number | undefined>;
  timeoutMs?: number;
}

export class Client {
  constructor(
    readonly url: string,
    readonly token: string,
    readonly timeoutMs = 30_000,
  ) {}

  static async connect(settings: Settings = {}, env: NodeJS.ProcessEnv = process.env): Promise<Client> {
    const where = await locate(settings, env);
    return new Client(where.url, where.token);
  }

  /** One API call; every failure becomes an AkdError that says what to do. */
  async call<T = unknown>(method: string, apiPath: string, opts: CallOptions = {}): Promise<T> {
    const query = Object.entries(opts.query ?? {}).filter(([, v]) => v !== undefined && v !== "");
    const qs = query.length ? "?" + new URLSearchParams(query.map(([k, v]) => [k, String(v)])).toString() : "";
    const headers: Record<string, string> = this.token ? { Authorization: `Bearer ${this.token}` } : {};
    if (opts.body !== undefined) headers["Content-Type"] = "application/json";
    let res: Response;
    try {
      res = await fetch(`${this.url}${API_PREFIX}${apiPath}${qs}`, {
        method,
        headers,
        body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
        signal: AbortSignal.timeout(opts.timeoutMs ?? this.timeoutMs),
      });
    } catch (err) {
      throw transportError(err, this.url, method, apiPath);
    }
    return decode<T>(res, this.url, method, apiPath);
  }

  get<T = unknown>(apiPath: string, query?: CallOptions["query"]): Promise<T> {
    return this.call<T>("GET", apiPath, { query });
  }

  post<T = unknown>(apiPath: string, body: unknown = {}, timeoutMs?: number): Promise<T> {
    return this.call<T>("POST", apiPath, { body, timeoutMs });
  }

  /**
   * Health (public), the version check, then one authenticated call so a wrong token is
   * reported now rather than on the first click.
   */
  async check(supported = SUPPORTED_AKD): Promise<Health> {
    let health: Health;
    try {
      health = await this.get<Health>("/health");
    } catch (err) {
      if (err instanceof AkdError && err.status === 404) {
        throw new AkdError(
          `the server at ${this.url} has no ${API_PREFIX}/health: it is not an akd that speaks API v1 ` +
            `(this extension needs akd ${supported.min} up to ${supported.belowMajor}.0.0)`,
          "incompatible",
          err.code,
          404,
        );
      }
      throw err;
    }
    const problem = incompatibility(String(health.version ?? ""), this.url, supported);
    if (problem) throw new AkdError(problem, "incompatible", "", 200, { version: health.version });
    await this.get("/projects");
    return health;
  }

  projects(): Promise<Project[]> {
    return this.get("/projects");
  }
  project(name: string): Promise<ProjectDetail> {
    return this.get(`/projects/${encodeURIComponent(name)}`);
  }
  deployments(project: string): Promise<Deployment[]> {
    return this.get("/deployments", { project });
  }
  triggers(project: string): Promise<Trigger[]> {
    return this.get("/triggers", { project });
  }
  connections(project: string): Promise<Connection[]> {
    return this.get("/connections", { project });
  }
  sessions(query: { project?: string; limit?: number; state?: string } = {}): Promise<Session[]> {
    return this.get("/sessions", query);
  }
  session(id: string): Promise<Session> {
    return this.get(`/sessions/${encodeURIComponent(id)}`);
  }
  waitSession(id: string, timeoutSeconds = 30): Promise<Session> {
    return this.get(`/sessions/${encodeURIComponent(id)}`, { wait: "final", timeout: timeoutSeconds });
  }
  prints(id: string, after = 0): Promise<{ state: string; prints: Print[] }> {
    return this.get(`/sessions/${encodeURIComponent(id)}/prints`, { after });
  }
  log(id: string, after = 0): Promise<{ state: string; records: LogRecord[] }> {
    return this.get(`/sessions/${encodeURIComponent(id)}/log`, { after });
  }
  stop(id: string, reason = "stopped from VS Code"): Promise<{ session_id: string; status: string }> {
    return this.post(`/sessions/${encodeURIComponent(id)}/stop`, { reason });
  }
  restart(id: string): Promise<{ session_id: string; restart_of: string }> {
    return this.post(`/sessions/${encodeURIComponent(id)}/restart`);
  }
  /** A new event like the session's own, dispatched now: only for sessions started by an event. */
  rerun(session: Session): Promise<Event> {
    if (!session.event_id) {
      throw new AkdError(`session ${session.session_id} was not started by an event: nothing to rerun`, "api");
    }
    return this.post(`/events/${encodeURIComponent(session.event_id)}/redispatch`);
  }
  startSession(project: string, entrypoint: string, inputs: Record<string, unknown> = {}): Promise<{ session_id: string }> {
    return this.post("/sessions", { project, entrypoint, inputs });
  }
  dispatch(project: string, trigger: string, data: Record<string, unknown>, eventType = ""): Promise<Event> {
    return this.post("/events", { project, trigger, data, event_type: eventType });
  }
  integration(name: string): Promise<Integration> {
    return this.get(`/integrations/${encodeURIComponent(name)}`);
  }
  initConnection(ref: string, authType: string, vars: Record<string, string>): Promise<Connection & { ok: boolean; message: string }> {
    return this.post(`/connections/${ref}/init`, { auth_type: authType, vars });
  }
  startOAuth(ref: string): Promise<{ authorize_url: string; state: string; expires_at: string }> {
    return this.post(`/connections/${ref}/oauth/start`);
  }
  /** How the authorization started with `state` went: "pending" until the browser comes back to akd. */
  oauthOutcome(ref: string, state: string): Promise<OAuthOutcome> {
    return this.get(`/connections/${ref}/oauth/${encodeURIComponent(state)}`);
  }
  manifestSchema(): Promise<Record<string, unknown>> {
    return this.get("/schema/manifest");
  }
  /** Upload a project (what `akctl deploy` sends): the daemon checks, builds and activates it. */
  async deploy(projectDir: string): Promise<DeployResult> {
    const body = await deployBody(projectDir);
    return this.post<DeployResult>("/deploy", body, 900_000);
  }
}

function transportError(err: unknown, url: string, method: string, apiPath: string): AkdError {
  const name = (err as { name?: string })?.name;
  if (name === "TimeoutError" || name === "AbortError") {
    return new AkdError(`akd at ${url} did not answer ${method} ${apiPath} in time`, "timeout");
  }
  return new AkdError(`akd is not running at ${url}; ${START_HINT}`, "not_running");
}

async function decode<T>(res: Response, url: string, method: string, apiPath: string): Promise<T> {
  const raw = await res.text();
  let body: unknown = undefined;
  try {
    body = raw ? JSON.parse(raw) : undefined;
  } catch {
    body = undefined;
  }
  if (res.ok) return body as T;
  const err = (body as { error?: { code?: string; message?: string; details?: Record<string, unknown> } })?.error;
  if (res.status === 401) {
    const why = err?.message ?? "missing or wrong API token";
    throw new AkdError(
      `akd at ${url} refused the API token (${why}); set akd.token or fix the token file`,
      "unauthenticated",
      err?.code ?? "unauthenticated",
      401,
    );
  }
  if (err && typeof err === "object") {
    throw new AkdError(String(err.message ?? ""), "api", String(err.code ?? ""), res.status, err.details ?? {});
  }
  throw new AkdError(`akd answered ${res.status} to ${method} ${apiPath}: ${raw.slice(0, 200)}`, "api", "", res.status);
}

// -- deploy: the files akd would snapshot ----------------------------------------------

export const MANIFEST = "autokitteh.yaml";
const SKIPPED_DIRS = new Set(["__pycache__", "node_modules", "venv", "env"]);

function skipped(name: string): boolean {
  return name.startsWith(".") || SKIPPED_DIRS.has(name) || name.endsWith(".pyc");
}

/** The project's files by relative POSIX path, skipping what akd's build skips. */
export async function projectFiles(root: string): Promise<Map<string, Buffer>> {
  const files = new Map<string, Buffer>();
  const realRoot = await fs.realpath(root);
  async function walk(dir: string, rel: string, seen: Set<string>): Promise<void> {
    const entries = (await fs.readdir(dir, { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : 1));
    for (const entry of entries) {
      if (skipped(entry.name)) continue;
      const full = path.join(dir, entry.name);
      const relPath = rel ? `${rel}/${entry.name}` : entry.name;
      const real = await fs.realpath(full).catch(() => undefined);
      // Links out of the project, and broken ones, are left for akd to report.
      if (real === undefined || !(real === realRoot || real.startsWith(realRoot + path.sep))) continue;
      const stat = await fs.stat(real);
      if (stat.isDirectory()) {
        const isVenv = await fs.stat(path.join(real, "pyvenv.cfg")).then(() => true, () => false);
        if (!isVenv && !seen.has(real)) await walk(real, relPath, new Set([...seen, real]));
      } else if (stat.isFile()) {
        files.set(relPath, await fs.readFile(real));
      }
    }
  }
  await walk(realRoot, "", new Set([realRoot]));
  return files;
}

export async function hasManifest(dir: string): Promise<boolean> {
  return fs.stat(path.join(dir, MANIFEST)).then((s) => s.isFile(), () => false);
}

/** The body of `POST /deploy`; a folder without a manifest is refused before anything is sent. */
export async function deployBody(projectDir: string): Promise<{ manifest: string; files: Record<string, string>; root_dir: string }> {
  if (!(await hasManifest(projectDir))) {
    throw new AkdError(`${projectDir} has no ${MANIFEST}: open or create a project folder with one`, "api", "no_manifest");
  }
  const manifest = (await fs.readFile(path.join(projectDir, MANIFEST), "utf8")).replace(/^\uFEFF/, "");
  const files: Record<string, string> = {};
  for (const [rel, content] of await projectFiles(projectDir)) files[rel] = content.toString("base64");
  return { manifest, files, root_dir: path.resolve(projectDir) };
}

// -- diagnostics ---------------------------------------------------------------------

export interface Problem {
  /** Absolute path of the file the problem is in. */
  file: string;
  /** 0-based, as editors count. */
  line: number;
  column: number;
  message: string;
}

/** Where a failed deploy points: akd's `details` give file, line (1-based) and column. */
export function problemsOf(err: unknown, projectDir: string): Problem[] {
  if (!(err instanceof AkdError) || !["invalid_manifest", "build_failed", "no_manifest"].includes(err.code)) return [];
  const d = err.details;
  const rel = typeof d.file === "string" && d.file ? d.file : MANIFEST;
  const line = typeof d.line === "number" && d.line > 0 ? d.line - 1 : 0;
  const column = typeof d.column === "number" && d.column > 0 ? d.column - 1 : 0;
  const key = typeof d.key === "string" ? d.key : "";
  return [{ file: path.resolve(projectDir, rel), line, column, message: stripLocation(err.message, rel, key) }];
}

function stripLocation(message: string, rel: string, key: string): string {
  // akd prefixes "file:line[:col]: key: "; the editor shows the place itself.
  let m = message.replace(new RegExp(`^${escapeRe(rel)}(:\\d+){0,2}: `), "");
  if (key && m.startsWith(`${key}: `)) m = `${m.slice(key.length + 2)} (${key})`;
  return m;
}

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

// -- sessions as documents -----------------------------------------------------------

export interface Frame {
  file: string;
  line: number;
  func: string;
}

/** The frames of a Python traceback as akd stores it (paths relative to the project). */
export function tracebackFrames(traceback: string): Frame[] {
  const frames: Frame[] = [];
  for (const m of traceback.matchAll(/File "([^"]+)", line (\d+), in (\S+)/g)) {
    frames.push({ file: m[1], line: Number(m[2]), func: m[3] });
  }
  return frames;
}

const STATE_MARK: Record<string, string> = { created: "○", running: "▶", completed: "✓", error: "✗", stopped: "■" };

export function stateMark(state: string): string {
  return STATE_MARK[state] ?? "?";
}

export function isLive(state: string): boolean {
  return state === "created" || state === "running";
}

/** A session as a read-only text document: header, prints, step timeline, error. */
export function renderSession(s: Session, prints: Print[], records: LogRecord[]): string {
  const timeline = records.filter((r) => r.kind !== "print"); // the prints have their own section
  const out = [
    `${stateMark(s.state)} session ${s.session_id}  [${s.state}]`,
    `project ${s.project}   entrypoint ${s.entrypoint}   deployment ${s.deployment_id ?? "-"}`,
    `created ${s.created_at}   updated ${s.updated_at}${s.event_id ? `   event ${s.event_id}` : ""}`,
    "",
    `── prints (${prints.length}) ──`,
    ...prints.map((p) => `${p.t}  ${p.text}`),
    "",
    `── timeline (${timeline.length}) ──`,
    ...timeline.map(timelineLine),
  ];
  if (s.error) {
    out.push("", `── error: ${s.error.type ?? "Error"} ──`, s.error.message ?? "");
    if (s.error.traceback) out.push("", s.error.traceback.trimEnd());
  }
  if (s.return_value !== null && s.return_value !== undefined) {
    out.push("", "── return value ──", JSON.stringify(s.return_value, null, 2));
  }
  return out.join("\n") + "\n";
}

function timelineLine(r: LogRecord): string {
  const { id: _id, t, kind, ...rest } = r;
  const label = typeof rest.name === "string" ? rest.name : typeof rest.text === "string" ? rest.text : "";
  delete rest.name;
  delete rest.text;
  const more = Object.keys(rest).length ? `  ${JSON.stringify(rest)}` : "";
  return `${t}  ${kind}${label ? ` ${label}` : ""}${more}`;
}

// -- manifest code lenses ------------------------------------------------------------

export interface CallSite {
  /** 0-based line of the `call:` in the manifest. */
  line: number;
  trigger: string;
  file: string;
  func: string;
}

/** The `call: file.py:function` lines of a manifest, with the trigger they belong to. */
export function manifestCalls(text: string): CallSite[] {
  const sites: CallSite[] = [];
  let trigger = "";
  text.split(/\r?\n/).forEach((line, i) => {
    const name = /^\s*-?\s*name:\s*["']?(\w+)["']?\s*(#.*)?$/.exec(line);
    if (name) trigger = name[1];
    const call = /^\s*-?\s*call:\s*["']?([^"'\s#]+\.py):([A-Za-z_]\w*)["']?\s*(#.*)?$/.exec(line);
    if (call) sites.push({ line: i, trigger, file: call[1], func: call[2] });
  });
  return sites;
}

/** 0-based line of `def func(` (or `async def`) at the top level of a Python file, or -1. */
export function functionLine(source: string, func: string): number {
  const re = new RegExp(`^(async\\s+)?def\\s+${escapeRe(func)}\\s*\\(`);
  return source.split(/\r?\n/).findIndex((l) => re.test(l));
}

// -- wire shapes (the fields the extension reads) -------------------------------------

export interface Project {
  project_id: string;
  name: string;
  root_dir: string;
  active_deployment_id: string | null;
}
export interface ProjectDetail extends Project {
  triggers: Trigger[];
  counts: Record<string, number>;
}
export interface Deployment {
  deployment_id: string;
  build_id: string;
  state: string;
  session_count: number;
  created_at: string;
}
export interface Trigger {
  trigger_id: string;
  name: string;
  type: string;
  call: string | null;
  event_type: string | null;
  schedule: string | null;
  webhook_url: string | null;
  next_fire_times?: string[];
  project?: string;
}
export interface Connection {
  connection_id: string;
  name: string;
  project: string;
  integration: string;
  status: string;
  status_message: string;
}
export interface OAuthOutcome {
  outcome: "pending" | "ok" | "failed";
  message: string;
  connection?: Connection;
}
export type AuthVar = { name: string; prompt: string; secret: boolean; optional: boolean };
export type AuthMode = { auth_type: string; label: string; oauth: boolean; vars: AuthVar[] };
export interface Integration {
  name: string;
  display_name: string;
  auth_modes: AuthMode[];
}
export interface Session {
  session_id: string;
  project: string;
  deployment_id: string | null;
  event_id: string | null; // "" for sessions started by hand
  entrypoint: string;
  state: string;
  created_at: string;
  updated_at: string;
  error: { type?: string; message?: string; traceback?: string } | null;
  return_value: unknown;
}
export interface Print {
  id: number;
  t: string;
  text: string;
}
export interface LogRecord {
  id: number;
  t: string;
  kind: string;
  [key: string]: unknown;
}
export interface Event {
  event_id: string;
  trigger: string;
  session_ids: string[];
}
export interface DeployResult {
  project_id: string;
  build_id: string;
  deployment_id: string;
  webhooks: Record<string, string>;
  connections: Connection[];
}

/** `project.name` of a manifest: the first `name:` indented under `project:`. */
export function manifestProjectName(text: string): string | undefined {
  const lines = text.split(/\r?\n/);
  const start = lines.findIndex((l) => /^project:\s*(#.*)?$/.test(l));
  if (start < 0) return undefined;
  let indent: string | undefined;
  for (const line of lines.slice(start + 1)) {
    if (!line.trim() || /^\s*#/.test(line)) continue;
    if (/^\S/.test(line)) break;
    indent ??= /^(\s+)/.exec(line)![1];
    const m = new RegExp(`^${indent}name:\\s*["']?(\\w+)["']?\\s*(#.*)?$`).exec(line);
    if (m) return m[1];
  }
  return undefined;
}
