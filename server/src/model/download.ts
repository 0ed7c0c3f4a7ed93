import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import * as path from 'node:path';
import { HttpProxyAgent } from 'http-proxy-agent';
import { HttpsProxyAgent } from 'https-proxy-agent';
import { getProxyForUrl } from 'proxy-from-env';
import { modelsFolderHint, type UserInterface } from './wording';

/**
 * Downloads a model's files from the Hugging Face hub (or a mirror with the
 * hub's URL layout, `HF_ENDPOINT`) into the cache folder, in the layout
 * transformers.js reads: `<cacheDir>/<id>/<file>`.
 *
 * Cloze does the HTTP itself instead of letting transformers.js fetch, for
 * what users must be able to trust on a real network:
 * - every request has a connect timeout and a read timeout (a filtering proxy
 *   that accepts and never answers costs N seconds, not minutes);
 * - a download can be cancelled at any moment (an `AbortSignal`);
 * - files land atomically: each is written under `<cacheDir>/.partial/`, checked
 *   (length, the hub's SHA-256 when it gives one, JSON that parses), and only
 *   then renamed into the model folder, so an interrupted download never looks
 *   like a model; a manifest records each file's size and hash, so a damaged
 *   cache entry is recognised and fetched again;
 * - only the files the engine reads are fetched: the tokenizer's three JSON
 *   files, then the one ONNX file of the chosen precision;
 * - behind a proxy it goes through the one the environment names
 *   (`HTTPS_PROXY`, `HTTP_PROXY`, `ALL_PROXY`, minus `NO_PROXY`, as curl and the
 *   Hugging Face tools read them): Node's `http`/`https` ignore those, and the
 *   VS Code extension host's proxy support does not reach the language server's
 *   own process (the client passes VS Code's `http.proxy` on as `HTTPS_PROXY`).
 */

/** How to reach the hub. */
export interface HubOptions {
  /** `https://huggingface.co` or a mirror with its layout (`<endpoint>/<id>/resolve/main/<file>`). */
  readonly endpoint: string;
  /** A Hugging Face access token, for gated and private models. */
  readonly token: string | undefined;
  /** Longest wait for a TCP/TLS connection. */
  readonly connectTimeoutMs: number;
  /** Longest silence while waiting for an answer or for the next bytes of one. */
  readonly readTimeoutMs: number;
}

function positiveNumber(value: string | undefined, fallback: number): number {
  const number = Number(value);
  return value !== undefined && value !== '' && Number.isFinite(number) && number > 0 ? number : fallback;
}

/**
 * The hub settings from the environment: `HF_ENDPOINT` and `HF_TOKEN` as the
 * Hugging Face tools read them; `CLOZE_HUB_CONNECT_TIMEOUT_MS` and
 * `CLOZE_HUB_READ_TIMEOUT_MS` for slow networks (and for tests).
 */
export function hubOptionsFromEnv(env: NodeJS.ProcessEnv = process.env): HubOptions {
  return {
    endpoint: (env['HF_ENDPOINT'] || 'https://huggingface.co').replace(/\/+$/, ''),
    // Trimmed as huggingface_hub does: a token pasted with a line break (CR/LF) or spaces still works.
    token: (env['HF_TOKEN'] || env['HUGGING_FACE_HUB_TOKEN'] || '').trim() || undefined,
    connectTimeoutMs: positiveNumber(env['CLOZE_HUB_CONNECT_TIMEOUT_MS'], 10_000),
    readTimeoutMs: positiveNumber(env['CLOZE_HUB_READ_TIMEOUT_MS'], 20_000),
  };
}

/** The files of a model, the ones the tokenizer checks need first. */
export const TOKENIZER_FILES = ['config.json', 'tokenizer_config.json', 'tokenizer.json'] as const;

export function onnxFile(quantized: boolean): string {
  return quantized ? 'onnx/model_quantized.onnx' : 'onnx/model.onnx';
}

/** What the manifest says of a downloaded file. */
interface FileRecord {
  readonly size: number;
  readonly sha256: string;
}

const MANIFEST = '.cloze-download.json';

function modelFolder(cacheDir: string, id: string): string {
  return path.join(cacheDir, ...id.split('/'));
}

function readManifest(folder: string): Record<string, FileRecord> | undefined {
  try {
    const parsed = JSON.parse(fs.readFileSync(path.join(folder, MANIFEST), 'utf8')) as { files?: Record<string, FileRecord> };
    return parsed.files && typeof parsed.files === 'object' ? parsed.files : undefined;
  } catch {
    return undefined;
  }
}

/**
 * What the cache holds of a model, from `stat` calls (cheap enough for every
 * keystroke): which of `files` are missing, and which are damaged (a size
 * other than the one the manifest recorded when they were downloaded, or an
 * ONNX file this downloader saved whose first bytes are not an ONNX model's:
 * a web page or a git-lfs pointer that older versions accepted; read once
 * per size and modification time). A folder without a manifest (filled by
 * transformers.js or by hand) is trusted as it is.
 */
export function cacheState(cacheDir: string, id: string, files: readonly string[]): { missing: string[]; damaged: string[] } {
  const folder = modelFolder(cacheDir, id);
  const manifest = readManifest(folder);
  const missing: string[] = [];
  const damaged: string[] = [];
  for (const file of files) {
    let size: number;
    try {
      size = fs.statSync(path.join(folder, file)).size;
    } catch {
      missing.push(file);
      continue;
    }
    const record = manifest?.[file];
    if (record && (record.size !== size || !savedOnnxLooksRight(path.join(folder, file)))) damaged.push(file);
  }
  return { missing, damaged };
}

/** Whether an ONNX file in the cache starts as one does, by path, size and modification time (a read of a few bytes, once). */
const onnxHeads = new Map<string, boolean>();

function savedOnnxLooksRight(file: string): boolean {
  if (!file.endsWith('.onnx')) return true;
  try {
    const stat = fs.statSync(file);
    const key = `${file}\0${stat.size}\0${stat.mtimeMs}\0${stat.ino}`;
    let right = onnxHeads.get(key);
    if (right === undefined) {
      right = contentProblem(file, readHead(file)) === undefined;
      if (onnxHeads.size >= 256) onnxHeads.clear();
      onnxHeads.set(key, right);
    }
    return right;
  } catch {
    return true; // Gone or unreadable: the loader says why.
  }
}

function readHead(file: string, length = 512): Buffer {
  const descriptor = fs.openSync(file, 'r');
  try {
    const head = Buffer.alloc(length);
    return head.subarray(0, fs.readSync(descriptor, head, 0, length, 0));
  } finally {
    fs.closeSync(descriptor);
  }
}

const LFS_POINTER = 'version https://git-lfs.github.com/spec/';

/**
 * Why the first bytes of a downloaded file show it is not the file asked for:
 * a web page (a captive portal or login page answering in the hub's place), a
 * git-lfs pointer (a mirror cloned without git-lfs), or, for an ONNX file,
 * bytes that cannot start an ONNX model. Cheap: the first few bytes only.
 */
function contentProblem(file: string, head: Buffer): 'web-page' | 'lfs-pointer' | 'not-onnx' | undefined {
  const text = head
    .toString('latin1')
    .replace(/^\uFEFF/, '')
    .trimStart();
  if (text.startsWith(LFS_POINTER)) return 'lfs-pointer';
  if (/^<(!doctype\s+html|html|head|body|meta|title)\b/i.test(text)) return 'web-page';
  if (file.endsWith('.onnx') && !startsLikeOnnx(head)) return 'not-onnx';
  return undefined;
}

/**
 * An ONNX file is a serialised ModelProto (protobuf): it starts with the tag of
 * one of its fields, with that field's wire type. Exporters write ir_version
 * (field 1, a varint) first, so real files start with 0x08; the other fields
 * are accepted in case one does not. Text, HTML, JSON and gzip never pass.
 */
function startsLikeOnnx(head: Buffer): boolean {
  if (head.length < 2) return false;
  let tag = head[0]!;
  let rest = 1;
  if (tag & 0x80) {
    if (head[1]! & 0x80) return false;
    tag = (tag & 0x7f) | (head[1]! << 7);
    rest = 2;
  }
  const field = tag >> 3;
  const wireType = tag & 7;
  if (field === 1) return wireType === 0 && head[rest]! > 0 && head[rest]! < 0x80; // ir_version: a small number
  return ONNX_MODEL_FIELDS.get(field) === wireType;
}

/** ModelProto's fields (onnx.proto) and their wire types: 0 a varint, 2 a length-delimited value. */
const ONNX_MODEL_FIELDS = new Map([
  [2, 2], // producer_name
  [3, 2], // producer_version
  [4, 2], // domain
  [5, 0], // model_version
  [6, 2], // doc_string
  [7, 2], // graph
  [8, 2], // opset_import
  [14, 2], // metadata_props
  [20, 2], // training_info
  [25, 2], // functions
]);

/** Why a download failed, in words a user can act on; `kind` lets callers (and tests) tell failures apart. */
export class DownloadError extends Error {
  constructor(
    readonly kind: 'cancelled' | 'timeout' | 'offline' | 'not-found' | 'unauthorized' | 'http' | 'damaged' | 'disk' | 'settings',
    message: string,
  ) {
    super(message);
  }
}

export interface DownloadProgress {
  readonly file: string;
  /** Bytes received of all files of this download so far. */
  readonly receivedBytes: number;
  /** Sum of the sizes announced so far (files not yet asked for are not in it). */
  readonly totalBytes: number | undefined;
}

export interface DownloadRequest {
  readonly id: string;
  readonly cacheDir: string;
  /** Paths inside the model folder, downloaded in this order. */
  readonly files: readonly string[];
  readonly hub: HubOptions;
  readonly signal?: AbortSignal;
  readonly onProgress?: (progress: DownloadProgress) => void;
  /** Called after each file has landed in the cache. */
  readonly onFile?: (file: string) => void;
  /** Whose settings or flags the error messages name (default: the editor). */
  readonly userInterface?: UserInterface;
}

/**
 * Downloads `files` of model `id` into the cache, one at a time, each
 * atomically. Files already in the cache undamaged are skipped. Rejects with
 * a `DownloadError`.
 */
export async function downloadModel(request: DownloadRequest): Promise<void> {
  const { id, cacheDir, signal } = request;
  const ui = request.userInterface ?? 'editor';
  const hub = checkedHub(request.hub, ui);
  const folder = modelFolder(cacheDir, id);
  const state = cacheState(cacheDir, id, request.files);
  const todo = request.files.filter((file) => state.missing.includes(file) || state.damaged.includes(file));
  if (todo.length === 0) return;
  const partial = path.join(cacheDir, '.partial');
  try {
    fs.mkdirSync(partial, { recursive: true });
    removeStaleParts(partial);
  } catch (error) {
    throw new DownloadError('disk', `the cache folder ${cacheDir} cannot be written (${messageOf(error)}).`);
  }
  let received = 0;
  let announced = 0;
  for (const file of todo) {
    if (signal?.aborted) throw cancelled();
    const prefix = partFilePrefix(id, file);
    const temporary = path.join(partial, `${prefix}${crypto.randomUUID()}.part`);
    ownParts.add(temporary);
    try {
      const url = `${hub.endpoint}/${id.split('/').map(encodeURIComponent).join('/')}/resolve/main/${file}`;
      let fileTotal: number | undefined;
      const { record, host, expectedSha } = await fetchToFile(url, temporary, hub, signal, (bytes, total) => {
        if (total !== undefined && fileTotal === undefined) {
          fileTotal = total;
          announced += total;
        }
        received += bytes;
        request.onProgress?.({ file, receivedBytes: received, totalBytes: announced > 0 ? announced : undefined });
      }).catch((error: unknown) => {
        throw explain(error, id, file, hub, ui);
      });
      // Checked before it is renamed into the cache: what lands there is trusted by every later run.
      const problem = contentProblem(file, readHead(temporary));
      if (problem) throw wrongContent(problem, id, file, host, ui);
      // After the content check: a web page in the file's place is said as one, not as a wrong hash.
      if (expectedSha !== undefined && record.sha256 !== expectedSha) {
        throw new DownloadError(
          'damaged',
          `${file} of ${id} arrived damaged from ${host}: its SHA-256 is not the one the hub gave. ${retryHint(ui)}`,
        );
      }
      if (file.endsWith('.json')) {
        try {
          JSON.parse(fs.readFileSync(temporary, 'utf8'));
        } catch {
          throw new DownloadError('damaged', `${file} of ${id} arrived damaged from ${host} (not valid JSON). Try again later.`);
        }
      }
      const target = path.join(folder, file);
      try {
        fs.mkdirSync(path.dirname(target), { recursive: true });
        fs.renameSync(temporary, target);
        writeManifest(folder, file, record);
      } catch (error) {
        throw new DownloadError('disk', `${file} of ${id} could not be saved in ${folder}: ${messageOf(error)}.`);
      }
      request.onFile?.(file);
      removeStalePartsOf(partial, prefix, hub);
    } finally {
      ownParts.delete(temporary);
      fs.rmSync(temporary, { force: true });
    }
  }
}

/** The part files this process is writing, removed by `removePartialDownloads` when it is stopped. */
const ownParts = new Set<string>();

/**
 * Removes the part files of the downloads under way, synchronously: for a
 * SIGINT/SIGTERM handler (the CLI's), since a stopped process runs no
 * `finally` and its parts (up to a model's size) would wait a day for the sweep.
 */
export function removePartialDownloads(): void {
  for (const part of ownParts) fs.rmSync(part, { force: true });
  ownParts.clear();
}

/** The start of the part files' names of one file of one model, so that a finished download can find the older ones. */
export function partFilePrefix(id: string, file: string): string {
  return `${crypto.createHash('sha256').update(`${id}/${file}`).digest('hex').slice(0, 16)}-`;
}

/**
 * Once a file has landed: the parts of the same file that processes killed
 * mid-download left. A part not written for twice the read timeout (and at
 * least 5 minutes) has no download behind it: a live one writes or times out.
 */
function removeStalePartsOf(partial: string, prefix: string, hub: HubOptions): void {
  const before = Date.now() - Math.max(2 * hub.readTimeoutMs, 5 * 60 * 1000);
  try {
    for (const name of fs.readdirSync(partial)) {
      if (!name.startsWith(prefix) || !name.endsWith('.part')) continue;
      const file = path.join(partial, name);
      try {
        if (fs.statSync(file).mtimeMs < before) fs.rmSync(file, { force: true });
      } catch {
        // Gone already.
      }
    }
  } catch {
    // The sweep is a courtesy: the file has landed.
  }
}

/**
 * The hub settings, checked before anything is sent: an `HF_ENDPOINT` that is
 * not an http(s) URL, or an `HF_TOKEN` that cannot go in a header, is said
 * naming the variable, not as a failure to save or a Node message. The token
 * is trimmed (as huggingface_hub does) whoever built the options.
 */
function checkedHub(hub: HubOptions, ui: UserInterface): HubOptions {
  const environment = ui === 'cli' ? 'environment' : "editor's environment";
  let endpoint: URL | undefined;
  try {
    endpoint = new URL(hub.endpoint);
  } catch {
    endpoint = undefined;
  }
  if (!endpoint || (endpoint.protocol !== 'http:' && endpoint.protocol !== 'https:')) {
    throw new DownloadError(
      'settings',
      `HF_ENDPOINT is "${withoutCredentials(hub.endpoint)}": it is not an http:// or https:// URL. Set it in the ${environment} to the address of a mirror with the hub's layout, e.g. https://hf-mirror.example.com, or unset it for https://huggingface.co.`,
    );
  }
  const token = hub.token?.trim() || undefined;
  // Printable ASCII only: Node refuses control characters in a header, and a real token has nothing else.
  if (token !== undefined && /[^\x20-\x7e]/.test(token)) {
    throw new DownloadError(
      'settings',
      `HF_TOKEN holds a control character or a character that is not ASCII, so it cannot be sent. Set it in the ${environment} to the token exactly as huggingface.co shows it (hf_…).`,
    );
  }
  return { ...hub, token };
}

/** Parts left by a process that was killed mid-download; a day old, no download can still be writing them. */
function removeStaleParts(partial: string): void {
  const dayAgo = Date.now() - 24 * 60 * 60 * 1000;
  for (const name of fs.readdirSync(partial)) {
    const file = path.join(partial, name);
    try {
      if (name.endsWith('.part') && fs.statSync(file).mtimeMs < dayAgo) fs.rmSync(file, { force: true });
    } catch {
      // Gone already, or not ours to remove.
    }
  }
}

function writeManifest(folder: string, file: string, record: FileRecord): void {
  const files = { ...(readManifest(folder) ?? {}), [file]: record };
  const temporary = path.join(folder, `${MANIFEST}.${process.pid}.${crypto.randomUUID()}`);
  fs.writeFileSync(temporary, JSON.stringify({ files }, null, 2));
  fs.renameSync(temporary, path.join(folder, MANIFEST));
}

function cancelled(): DownloadError {
  return new DownloadError('cancelled', 'the download was cancelled.');
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** A failure of one HTTP exchange, before it is put in the user's words. */
class HttpFailure extends Error {
  constructor(
    readonly status: number | undefined,
    readonly code: string | undefined,
    message: string,
    readonly host: string,
    /** The proxy the request went through, as `host:port` (never its credentials). */
    readonly proxy?: string,
    /** What an HTTP answer said beyond its status. */
    readonly answer?: AnswerDetails,
    /** How far the body had come when it failed (the answer had begun). */
    readonly body?: { readonly received: number; readonly total: number | undefined },
  ) {
    super(message);
  }

  /** The variable that named the proxy (`HTTPS_PROXY`, `HTTP_PROXY`, `ALL_PROXY`), set by `fetchToFile`. */
  proxyVariable: string | undefined;
  /** The proxy's URL held credentials (so a 407 means they were rejected). */
  proxyCredentials = false;
}

interface AnswerDetails {
  /** The answer came from the hub's origin (`HF_ENDPOINT`), not from the CDN it redirected to. */
  readonly fromHub: boolean;
  /** The hub's own error headers (`X-Error-Code`, else `X-Error-Message`): a firewall or proxy does not send them. */
  readonly hubError: string | undefined;
  /** `Retry-After`, as sent. */
  readonly retryAfter: string | undefined;
}

/**
 * The proxy the environment names for `url`, or undefined for a direct
 * connection; a value that is not a URL is an error the user must see, not a
 * silent direct connection that a firewall then drops.
 */
function proxyFor(
  url: URL,
): { readonly url: URL; readonly variable: string } | { readonly invalid: string; readonly variable: string } | undefined {
  const value = getProxyForUrl(url.href);
  if (!value) return undefined;
  const scheme = url.protocol === 'http:' ? 'HTTP_PROXY' : 'HTTPS_PROXY';
  const variable = process.env[scheme] || process.env[scheme.toLowerCase()] ? scheme : 'ALL_PROXY';
  try {
    const proxy = new URL(value);
    if (proxy.protocol !== 'http:' && proxy.protocol !== 'https:') return { invalid: value, variable };
    return { url: proxy, variable };
  } catch {
    return { invalid: value, variable };
  }
}

/** A proxy setting that is not a URL, as messages show it: its scheme and what follows its last @, never what precedes it. */
function withoutCredentials(value: string): string {
  const at = value.lastIndexOf('@');
  if (at < 0) return value;
  const scheme = /^[a-z][a-z0-9+.-]*:\/\//i.exec(value)?.[0] ?? '';
  return `${scheme}…${value.slice(at)}`;
}

/** A proxy URL as messages show it: scheme, host and port, without credentials. */
function shownProxy(proxy: URL): string {
  return `${proxy.protocol}//${proxy.host}`;
}

/** A body that began and did not end right: how far it came, from where, and through which proxy. */
function bodyFailure(error: HttpFailure, file: string, hub: HubOptions, ui: UserInterface): DownloadError {
  const { received, total } = error.body!;
  const from = `the download of ${file} from ${error.host}${error.proxy ? ` through the proxy ${error.proxy}` : ''}`;
  const howFar = `${received}${total !== undefined ? ` of ${total}` : ''} bytes`;
  const environment = ui === 'cli' ? 'environment' : "editor's environment";
  if (error.code === 'BODY_STALLED') {
    return new DownloadError(
      'timeout',
      `${from} stalled after ${howFar}: nothing came for ${seconds(hub.readTimeoutMs)}. ${retryHint(ui)} On a slow network, raise CLOZE_HUB_READ_TIMEOUT_MS in the ${environment}.`,
    );
  }
  if (error.code === 'BODY_TOO_LONG') {
    return new DownloadError(
      'damaged',
      `${error.host}${error.proxy ? ` (through the proxy ${error.proxy})` : ''} sent more than the ${total} bytes it announced for ${file}, so it was not saved: the server or a proxy on the way is at fault. ${retryHint(ui)}`,
    );
  }
  return new DownloadError('damaged', `${from} broke off after ${howFar} (${error.message}). ${retryHint(ui)}`);
}

function retryHint(ui: UserInterface): string {
  return ui === 'cli' ? 'Run the command again to retry.' : 'Edit the id or save the file to try again.';
}

function folderHint(ui: UserInterface): string {
  return `put the model in the models folder (${modelsFolderHint(ui)})`;
}

/** A body that is not the file asked for, said with what put it there and what to do. */
function wrongContent(
  problem: 'web-page' | 'lfs-pointer' | 'not-onnx',
  id: string,
  file: string,
  host: string,
  ui: UserInterface,
): DownloadError {
  const retry = retryHint(ui);
  if (problem === 'web-page') return webPageAnswer(file, host, ui);
  if (problem === 'lfs-pointer') {
    return new DownloadError(
      'damaged',
      `${host} sent a git-lfs pointer in place of ${file} of ${id}: the mirror (HF_ENDPOINT) holds the repository without its large files (cloned without git-lfs). Run \`git lfs pull\` in the mirror's copy, or ${folderHint(ui)}. ${retry}`,
    );
  }
  return new DownloadError(
    'damaged',
    `${file} of ${id} from ${host} is not an ONNX model (its first bytes are not an ONNX file's), so it was not saved. Check the mirror (HF_ENDPOINT) or the network in between, or ${folderHint(ui)}. ${retry}`,
  );
}

function webPageAnswer(file: string, host: string, ui: UserInterface): DownloadError {
  return new DownloadError(
    'http',
    `${host} answered ${file} with a web page (text/html), not the file: a login page or captive portal (hotel, train or company Wi-Fi) is answering in the hub's place. Log in to the network in a browser, then try again; or ${folderHint(ui)}. ${retryHint(ui)}`,
  );
}

function explain(error: unknown, id: string, file: string, hub: HubOptions, ui: UserInterface): DownloadError {
  if (error instanceof DownloadError) return error;
  if (!(error instanceof HttpFailure)) {
    // A file-system error (it has a syscall: open, write…) is the disk's; anything else is not, and is not called so.
    return (error as NodeJS.ErrnoException | undefined)?.syscall !== undefined
      ? new DownloadError('disk', `${file} of ${id} could not be saved: ${messageOf(error)}.`)
      : new DownloadError('http', `the download of ${file} of ${id} failed: ${messageOf(error)}.`);
  }
  const { status, code, host } = error;
  const retry = retryHint(ui);
  const folder = folderHint(ui);
  const environment = ui === 'cli' ? 'environment' : "editor's environment";
  if (code === 'ABORT') return cancelled();
  if (code === 'WEB_PAGE') return webPageAnswer(file, host, ui);
  if (error.body !== undefined) return bodyFailure(error, file, hub, ui);
  if (code === 'REDIRECTS') {
    return new DownloadError(
      'http',
      `${host} answered ${file} with too many redirects (more than 10, or a loop): the hub or mirror (HF_ENDPOINT) is misconfigured. Try again later, or ${folder}. ${retry}`,
    );
  }
  if (code === 'DOWNGRADE') {
    return new DownloadError(
      'http',
      `${host} redirected ${file} from https:// to ${error.message}, plain http://: Cloze does not follow a redirect that drops TLS (the file, and HF_TOKEN, would travel unencrypted). Have the mirror (HF_ENDPOINT) redirect to https://, or ${folder}. ${retry}`,
    );
  }
  if (code === 'BAD_REDIRECT') {
    return new DownloadError(
      'http',
      `${host} redirected ${file} to ${error.message}: Cloze follows redirects to http:// and https:// only. Check HF_ENDPOINT (a mirror with the hub's layout), or ${folder}. ${retry}`,
    );
  }
  if (code === 'ENCODED') {
    return new DownloadError(
      'http',
      `${host} sent ${file} compressed (Content-Encoding: ${error.message}) although Cloze asks for it as it is (Accept-Encoding: identity), so it was not saved: the mirror (HF_ENDPOINT) or a proxy on the way compresses it. Ask its administrator, or ${folder}. ${retry}`,
    );
  }
  // The variable that named this proxy: HTTP_PROXY for an http:// mirror, not always HTTPS_PROXY.
  const variable = error.proxyVariable ?? 'HTTPS_PROXY';
  const proxyAdvice =
    ui === 'cli'
      ? `Check ${variable} (and NO_PROXY) in the environment`
      : `Check VS Code's http.proxy setting or ${variable} (and NO_PROXY) in the editor's environment`;
  if (code === 'BAD_PROXY') {
    return new DownloadError(
      'offline',
      `${error.message}: it is not an http:// or https:// URL. ${proxyAdvice}, e.g. http://proxy.example.com:3128.`,
    );
  }
  if (code !== undefined && UNTRUSTED_CERTIFICATE.has(code)) {
    // What a TLS-inspecting company proxy looks like from Node, which trusts its own CA list, not the system's.
    return new DownloadError(
      'offline',
      `the certificate ${host} presented is not trusted (${code}). Behind a proxy that inspects TLS, point NODE_EXTRA_CA_CERTS in the ${environment} at your organisation's root certificate (a PEM file)${ui === 'cli' ? '' : ' and restart the editor'}; or ${folder}. ${retry}`,
    );
  }
  if (error.proxy !== undefined) {
    const through = `the proxy ${error.proxy}`;
    if (status === 407 && error.proxyCredentials) {
      return new DownloadError(
        'unauthorized',
        `${through} rejected the credentials in ${variable} (407): check the user name and password in its URL (percent-encode special characters: @ as %40, a space as %20)${ui === 'cli' ? '' : ", or VS Code's http.proxy setting"}. ${retry}`,
      );
    }
    if (status === 407) {
      return new DownloadError(
        'unauthorized',
        `${through} asks for credentials (407): put them in its URL, http://user:password@host:port (percent-encode special characters). ${retry}`,
      );
    }
    if (code === 'PROXY_REFUSED') {
      return new DownloadError(
        'http',
        `${through} refused to connect to ${host} (${error.message}): the network's proxy blocks it. Ask its administrator, or ${folder}. ${retry}`,
      );
    }
    if (status !== undefined && status >= 500) {
      return new DownloadError(
        'http',
        `${through} answered ${status} for ${file} of ${host}. Try again later; if it persists, ${proxyAdvice.charAt(0).toLowerCase()}${proxyAdvice.slice(1)}. ${retry}`,
      );
    }
    if (code === 'PROXY_SILENT') {
      return new DownloadError(
        'timeout',
        `${through} accepted the request for ${file} of ${host} but sent no answer within ${seconds(hub.readTimeoutMs)}, neither its own nor the host's. ${proxyAdvice}, or ${folder}. ${retry}`,
      );
    }
    if (code === 'CONNECT_TIMEOUT') {
      return new DownloadError(
        'timeout',
        `no connection to ${host} through ${through} within ${seconds(hub.connectTimeoutMs)}. ${proxyAdvice}, or ${folder}. ${retry}`,
      );
    }
    if (status === undefined && code !== undefined && PROXY_UNREACHABLE.has(code)) {
      return new DownloadError(
        'offline',
        `${through} cannot be reached (${code ?? error.message}). ${proxyAdvice}, or ${folder}. ${retry}`,
      );
    }
  }
  if (code === 'CONNECT_TIMEOUT') {
    return new DownloadError(
      'timeout',
      `no connection to ${host} within ${seconds(hub.connectTimeoutMs)}. Check the network (behind a proxy: set ${variable}${ui === 'cli' ? '' : " or VS Code's http.proxy"}), or ${folder}. ${retry}`,
    );
  }
  if (code === 'READ_TIMEOUT') {
    return new DownloadError(
      'timeout',
      `${host} accepted the connection but sent no answer within ${seconds(hub.readTimeoutMs)} (a filtering proxy or captive portal?). Check the network, or ${folder}. ${retry}`,
    );
  }
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN' || code === 'ENETUNREACH' || code === 'EHOSTUNREACH' || code === 'ENETDOWN') {
    return new DownloadError(
      'offline',
      `offline: ${host} cannot be reached (${code}). Connect to the network (behind a proxy: set ${variable}${ui === 'cli' ? '' : " or VS Code's http.proxy"}), or ${folder}. ${retry}`,
    );
  }
  if (status === 404 && error.answer?.fromHub && error.answer.hubError === undefined) {
    // The hub says why it has no file (X-Error-Code: RepoNotFound, EntryNotFound); a filtering network that answers
    // every request with 404 does not, and "check the id" would send the user after an id that is right.
    const mirror = hub.endpoint !== 'https://huggingface.co';
    return new DownloadError(
      'not-found',
      `${host} answered 404 for ${file} of ${id} without the hub's error headers (X-Error-Code), so it may not be the hub answering: ${mirror ? 'the mirror (HF_ENDPOINT) may not hold it, or ' : ''}a proxy or web filter on the way may have answered in its place. Check the id and the network, or ${folder}. ${retry}`,
    );
  }
  if (status === 404) {
    return file === TOKENIZER_FILES[0]
      ? new DownloadError(
          'not-found',
          `the hub has no model ${id} (404). Check the id: it is case-sensitive, e.g. Xenova/bert-base-uncased.`,
        )
      : new DownloadError(
          'not-found',
          `${id} has no ${file} on the hub (404): it is not exported for transformers.js. Use a Xenova/* export of the model${file.startsWith('onnx/') ? `, or ${ui === 'cli' ? 'the other precision (--no-quantized)' : 'switch cloze.quantized'}` : ''}.`,
        );
  }
  if ((status === 401 || status === 403) && error.answer?.fromHub && error.answer.hubError !== undefined) {
    return new DownloadError(
      'unauthorized',
      `the hub refused ${file} (${status}): ${id} is gated or private, or does not exist. Check the id; for a gated model accept its terms on huggingface.co and set HF_TOKEN in the ${environment}.${hub.token ? ' The HF_TOKEN set has no access to it.' : ''}`,
    );
  }
  if (status === 401 || status === 403) {
    // Not the hub's word on the model: the token never goes to the CDN, and the hub's refusals carry X-Error-Code.
    const network = `Check the network (behind a proxy: set ${variable}${ui === 'cli' ? '' : " or VS Code's http.proxy"})`;
    return new DownloadError(
      'http',
      error.answer?.fromHub
        ? `${host} refused ${file} (${status}) without the hub's error headers: a firewall, proxy or web filter in front of it answered, not the hub, so this says nothing about ${id}. ${network}, ask the network's administrator to allow ${host}, or ${folder}. ${retry}`
        : `${host}, where the hub sent the download of ${file}, refused it (${status}): a firewall or proxy blocks that host, or the signed download link expired (a new one comes with the next try). ${network}, ask the network's administrator to allow ${host}, or ${folder}. ${retry}`,
    );
  }
  if (status === 429) {
    const when = retryAfterWords(error.answer?.retryAfter);
    const anonymous = error.answer?.fromHub && !hub.token;
    return new DownloadError(
      'http',
      `${host} answered 429 (too many requests) for ${file}: ${when ? `try again ${when}` : 'try again in a few minutes'}.${anonymous ? ` The hub limits anonymous downloads more: set HF_TOKEN (a Hugging Face access token) in the ${environment}.` : ''} ${retry}`,
    );
  }
  if (status !== undefined) {
    return new DownloadError('http', `${host} answered ${status} for ${file}. Try again later. ${retry}`);
  }
  return new DownloadError('offline', `${host} cannot be reached (${code ?? error.message}). Check the network. ${retry}`);
}

/** Codes of a proxy that is not there: before the request reached it (a failure beyond it has a status). */
const PROXY_UNREACHABLE = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'ECONNRESET', 'EHOSTUNREACH', 'ENETUNREACH', 'ETIMEDOUT']);

/** Node's codes for a certificate chain it does not trust. */
const UNTRUSTED_CERTIFICATE = new Set([
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'CERT_UNTRUSTED',
]);

/** `Retry-After` in words ("in 30 s", "after 14:05 UTC"), or undefined when it is absent or not understood. */
function retryAfterWords(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) {
    const wait = Number(trimmed);
    return wait < 120 ? `in ${wait} s` : `in ${Math.ceil(wait / 60)} minutes`;
  }
  const date = Date.parse(trimmed);
  return Number.isNaN(date) ? undefined : `after ${new Date(date).toISOString().slice(11, 16)} UTC`;
}

function seconds(ms: number): string {
  return `${Number((ms / 1000).toFixed(1))} s`;
}

/**
 * One GET into `target`, following redirects (the hub sends large files to a
 * CDN), with the timeouts of `hub`. Reports bytes as they arrive; checks the
 * length, and returns the hash the hub names (`X-Linked-Etag`, the LFS SHA-256)
 * for the caller to compare once it has checked what the bytes are.
 */
async function fetchToFile(
  url: string,
  target: string,
  hub: HubOptions,
  signal: AbortSignal | undefined,
  onBytes: (bytes: number, total: number | undefined) => void,
): Promise<{ readonly record: FileRecord; readonly host: string; readonly expectedSha: string | undefined }> {
  let current = new URL(url);
  let expectedSha: string | undefined;
  const hubOrigin = new URL(hub.endpoint).origin;
  for (let redirects = 0; redirects < 10; redirects++) {
    try {
      // The token goes to the hub's own origin only (scheme, host and port): never to a CDN, nor over plain http://.
      const { response, answeringProxy, viaProxy, late } = await get(
        current,
        hub,
        current.origin === hubOrigin ? hub.token : undefined,
        signal,
      );
      const status = response.statusCode ?? 0;
      const linked = headerOf(response, 'x-linked-etag') ?? headerOf(response, 'etag');
      const sha = linked?.replace(/^W\//, '').replace(/"/g, '');
      if (sha && /^[0-9a-f]{64}$/.test(sha) && expectedSha === undefined) expectedSha = sha;
      if (status >= 300 && status < 400 && response.headers.location) {
        response.resume();
        current = redirectTarget(response.headers.location, current, answeringProxy);
        continue;
      }
      if (status !== 200) {
        response.resume();
        throw new HttpFailure(status, undefined, `HTTP ${status}`, current.host, answeringProxy, {
          fromHub: current.origin === hubOrigin,
          hubError: headerOf(response, 'x-error-code') ?? headerOf(response, 'x-error-message'),
          retryAfter: headerOf(response, 'retry-after'),
        });
      }
      // A model file is never a web page: a captive portal or login page answers 200 text/html for every URL.
      if (/^\s*(text\/html|application\/xhtml\+xml)\b/i.test(headerOf(response, 'content-type') ?? '')) {
        response.resume();
        throw new HttpFailure(200, 'WEB_PAGE', 'a web page', current.host, answeringProxy);
      }
      // Only the bytes as they are can be checked against the hub's length and SHA-256 and be loaded.
      const encoding = (headerOf(response, 'content-encoding') ?? '').trim().toLowerCase();
      if (encoding !== '' && encoding !== 'identity') {
        response.resume();
        throw new HttpFailure(200, 'ENCODED', encoding, current.host, answeringProxy);
      }
      const lengthHeader = headerOf(response, 'content-length');
      const total = lengthHeader !== undefined && /^\d+$/.test(lengthHeader) ? Number(lengthHeader) : undefined;
      const record = await receive(response, target, total, hub, signal, onBytes, current.host, viaProxy, late);
      return { record, host: current.host, expectedSha };
    } catch (error) {
      // Which variable named the proxy, and whether its URL held credentials: what the message tells the user to check.
      if (error instanceof HttpFailure && (error.proxy !== undefined || error.code === 'BAD_PROXY')) {
        const proxy = proxyFor(current);
        error.proxyVariable = proxy?.variable;
        error.proxyCredentials = proxy !== undefined && 'url' in proxy && proxy.url.username !== '';
      } else if (error instanceof HttpFailure) {
        // A direct connection: the variable that would name a proxy for this URL (an http:// mirror reads HTTP_PROXY).
        error.proxyVariable = current.protocol === 'http:' ? 'HTTP_PROXY' : 'HTTPS_PROXY';
      }
      throw error;
    }
  }
  throw new HttpFailure(undefined, 'REDIRECTS', 'too many redirects', current.host, undefined, undefined);
}

/**
 * Where a redirect leads, if Cloze follows it: http:// or https:// only (a
 * `file:` or `ftp:` Location is the server's error, not a place to read), and
 * never from https:// down to http://, as huggingface_hub and requests refuse
 * it: the file would come unauthenticated and unchecked by TLS.
 */
function redirectTarget(location: string, from: URL, answeringProxy: string | undefined): URL {
  let next: URL;
  try {
    next = new URL(location, from);
  } catch {
    throw new HttpFailure(
      undefined,
      'BAD_REDIRECT',
      `a Location that is not a URL ("${location.slice(0, 80)}")`,
      from.host,
      answeringProxy,
    );
  }
  if (next.protocol !== 'http:' && next.protocol !== 'https:') {
    throw new HttpFailure(undefined, 'BAD_REDIRECT', `a ${next.protocol}// URL`, from.host, answeringProxy);
  }
  if (from.protocol === 'https:' && next.protocol === 'http:') {
    throw new HttpFailure(undefined, 'DOWNGRADE', next.origin, from.host, answeringProxy);
  }
  return next;
}

function headerOf(response: http.IncomingMessage, name: string): string | undefined {
  const value = response.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/**
 * Sends a GET and resolves with the response head, or rejects on a timeout, a
 * network error or an abort. The connect timeout runs from the start: through
 * a proxy the socket only exists once the proxy has answered CONNECT, and a
 * proxy that accepts and never answers must cost seconds, not forever.
 */
function get(
  url: URL,
  hub: HubOptions,
  token: string | undefined,
  signal: AbortSignal | undefined,
): Promise<{
  readonly response: http.IncomingMessage;
  readonly answeringProxy: string | undefined;
  readonly viaProxy: string | undefined;
  /** An error of the connection once the answer had begun, for `receive` to say with the body's progress. */
  readonly late: { error?: NodeJS.ErrnoException };
}> {
  return new Promise((resolve, reject) => {
    const proxy = proxyFor(url);
    const proxyShown = proxy && 'url' in proxy ? shownProxy(proxy.url) : undefined;
    const failure = (code: string, message: string): HttpFailure => new HttpFailure(undefined, code, message, url.host, proxyShown);
    if (signal?.aborted) return reject(failure('ABORT', 'aborted'));
    if (proxy && 'invalid' in proxy) {
      // Shown without what could be credentials: everything up to the last @ (a password may hold / or @).
      return reject(failure('BAD_PROXY', `${proxy.variable} is "${withoutCredentials(proxy.invalid)}"`));
    }
    const client = url.protocol === 'http:' ? http : https;
    // Identity: without Accept-Encoding any encoding is acceptable (RFC 9110), and a mirror may gzip the files.
    const headers: Record<string, string> = { 'user-agent': 'cloze-language-server', 'accept-encoding': 'identity' };
    if (token) headers['authorization'] = `Bearer ${token}`;
    // A new agent per request: no connection is kept alive between downloads. Its socket to the proxy
    // is not the request's until the proxy has answered CONNECT, so destroying the request does not
    // close it: `proxySocket` does (else a proxy that never answers would hold the CLI open).
    const proxySocket = new AbortController();
    const agentOptions = { signal: proxySocket.signal };
    const agent = proxy
      ? url.protocol === 'http:'
        ? new HttpProxyAgent(proxy.url, agentOptions)
        : new HttpsProxyAgent(proxy.url, agentOptions)
      : undefined;
    const request = client.get(url, { headers, ...(agent ? { agent } : {}) });
    let connectTimer: NodeJS.Timeout | undefined = setTimeout(() => fail('CONNECT_TIMEOUT', 'no connection'), hub.connectTimeoutMs);
    const fail = (code: string, message: string, status?: number): void => {
      clearTimeout(connectTimer);
      signal?.removeEventListener('abort', onAbort);
      request.destroy();
      proxySocket.abort();
      reject(status === undefined ? failure(code, message) : new HttpFailure(status, code, message, url.host, proxyShown));
    };
    const onAbort = (): void => fail('ABORT', 'aborted');
    signal?.addEventListener('abort', onAbort, { once: true });
    // https-proxy-agent reports the proxy's answer to CONNECT; anything but 200 is the proxy's refusal, not the hub's.
    request.once('proxyConnect', (connect: { statusCode?: number; statusText?: string }) => {
      const status = connect.statusCode ?? 0;
      if (status === 407) fail('PROXY_AUTH', 'Proxy Authentication Required', 407);
      else if (status !== 200) fail('PROXY_REFUSED', `${status}${connect.statusText ? ` ${connect.statusText}` : ''}`);
    });
    request.on('socket', (socket) => {
      const connected = (): void => {
        clearTimeout(connectTimer);
        connectTimer = undefined;
        // From here on, silence longer than the read timeout ends the request.
        // Through an http:// proxy the silence may be the proxy's own: it answers in the host's place.
        request.setTimeout(hub.readTimeoutMs, () =>
          fail(proxyShown && url.protocol === 'http:' ? 'PROXY_SILENT' : 'READ_TIMEOUT', 'no answer'),
        );
      };
      if (socket.connecting) socket.once(url.protocol === 'https:' && !agent ? 'secureConnect' : 'connect', connected);
      else connected();
    });
    const late: { error?: NodeJS.ErrnoException } = {};
    let answer: http.IncomingMessage | undefined;
    request.on('error', (error: NodeJS.ErrnoException) => {
      if (answer === undefined) return fail(error.code ?? 'ERROR', error.message);
      late.error = error;
      // A parse error once the announced body is complete is bytes beyond it (`receive` says so); else the body broke.
      if (!(answer.complete && error.code?.startsWith('HPE_'))) answer.destroy();
    });
    request.on('response', (response) => {
      answer = response;
      clearTimeout(connectTimer);
      signal?.removeEventListener('abort', onAbort);
      // Through an http:// proxy (HTTP_PROXY, for an http:// hub or mirror) the proxy answers in the hub's place:
      // 407 is always its own, and a 403 without the hub's X-Error-Code is a filtering proxy's, not a gated model.
      if (
        proxyShown &&
        url.protocol === 'http:' &&
        (response.statusCode === 407 || (response.statusCode === 403 && !response.headers['x-error-code']))
      ) {
        response.resume();
        return reject(
          response.statusCode === 407
            ? new HttpFailure(407, 'PROXY_AUTH', 'Proxy Authentication Required', url.host, proxyShown)
            : new HttpFailure(
                undefined,
                'PROXY_REFUSED',
                `403${response.statusMessage ? ` ${response.statusMessage}` : ''}`,
                url.host,
                proxyShown,
              ),
        );
      }
      // Over https:// the answer is the hub's (the proxy only tunnels); over http:// a proxy may answer in its place.
      resolve({ response, answeringProxy: url.protocol === 'http:' ? proxyShown : undefined, viaProxy: proxyShown, late });
    });
  });
}

/** Streams a response body into `target`, with the read timeout, the abort signal and the length check; hashes it. */
function receive(
  response: http.IncomingMessage,
  target: string,
  total: number | undefined,
  hub: HubOptions,
  signal: AbortSignal | undefined,
  onBytes: (bytes: number, total: number | undefined) => void,
  host: string,
  viaProxy: string | undefined,
  late: { readonly error?: NodeJS.ErrnoException },
): Promise<FileRecord> {
  return new Promise((resolve, reject) => {
    const out = fs.createWriteStream(target);
    const hash = crypto.createHash('sha256');
    let size = 0;
    let done = false;
    const finish = (error: Error | undefined, record?: FileRecord): void => {
      if (done) return;
      done = true;
      signal?.removeEventListener('abort', onAbort);
      response.socket?.setTimeout(0);
      if (error) {
        response.destroy();
        out.destroy();
        reject(error);
      } else resolve(record!);
    };
    // The answer has begun: a failure now is one of this body, said with how far it came (and through which proxy).
    const bodyFailure = (code: string, message: string): HttpFailure =>
      new HttpFailure(undefined, code, message, host, viaProxy, undefined, { received: size, total });
    const onAbort = (): void => finish(new HttpFailure(undefined, 'ABORT', 'aborted', host));
    if (signal?.aborted) return onAbort();
    signal?.addEventListener('abort', onAbort, { once: true });
    response.socket?.setTimeout(hub.readTimeoutMs, () => finish(bodyFailure('BODY_STALLED', 'no data')));
    onBytes(0, total);
    response.on('data', (chunk: Buffer) => {
      size += chunk.length;
      hash.update(chunk);
      onBytes(chunk.length, total);
    });
    response.on('error', (error: NodeJS.ErrnoException) => finish(bodyFailure('BODY_BROKEN', error.code ?? error.message)));
    response.on('aborted', () => finish(bodyFailure('BODY_BROKEN', late.error?.code ?? 'ECONNRESET')));
    // Destroyed before its end (the connection failed): no 'end' will come to finish the file.
    response.on('close', () => {
      if (!response.complete) finish(bodyFailure('BODY_BROKEN', late.error?.code ?? 'ECONNRESET'));
    });
    out.on('error', (error) => finish(error));
    response.pipe(out);
    out.on('finish', () => {
      if (done) return;
      if ((total !== undefined && size > total) || late.error?.code?.startsWith('HPE_')) {
        return finish(bodyFailure('BODY_TOO_LONG', 'more than announced'));
      }
      if (!response.complete || (total !== undefined && size !== total)) return finish(bodyFailure('BODY_BROKEN', 'cut short'));
      finish(undefined, { size, sha256: hash.digest('hex') });
    });
  });
}
