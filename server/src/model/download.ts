import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import * as path from 'node:path';
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
 *   files, then the one ONNX file of the chosen precision.
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
    token: env['HF_TOKEN'] || env['HUGGING_FACE_HUB_TOKEN'] || undefined,
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
 * What the cache holds of a model, from `stat` calls only (cheap enough for
 * every keystroke): which of `files` are missing, and which are damaged (a
 * size other than the one the manifest recorded when they were downloaded).
 * A folder without a manifest (filled by transformers.js or by hand) is
 * trusted as it is.
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
    if (record && record.size !== size) damaged.push(file);
  }
  return { missing, damaged };
}

/** Why a download failed, in words a user can act on; `kind` lets callers (and tests) tell failures apart. */
export class DownloadError extends Error {
  constructor(
    readonly kind: 'cancelled' | 'timeout' | 'offline' | 'not-found' | 'unauthorized' | 'http' | 'damaged' | 'disk',
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
  const { id, cacheDir, hub, signal } = request;
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
    const temporary = path.join(partial, `${crypto.randomUUID()}.part`);
    try {
      const url = `${hub.endpoint}/${id.split('/').map(encodeURIComponent).join('/')}/resolve/main/${file}`;
      let fileTotal: number | undefined;
      const record = await fetchToFile(url, temporary, hub, signal, (bytes, total) => {
        if (total !== undefined && fileTotal === undefined) {
          fileTotal = total;
          announced += total;
        }
        received += bytes;
        request.onProgress?.({ file, receivedBytes: received, totalBytes: announced > 0 ? announced : undefined });
      }).catch((error: unknown) => {
        throw explain(error, id, file, hub, request.userInterface ?? 'editor');
      });
      if (file.endsWith('.json')) {
        try {
          JSON.parse(fs.readFileSync(temporary, 'utf8'));
        } catch {
          throw new DownloadError('damaged', `${file} of ${id} arrived damaged (not valid JSON). Try again later.`);
        }
      }
      const target = path.join(folder, file);
      fs.mkdirSync(path.dirname(target), { recursive: true });
      fs.renameSync(temporary, target);
      writeManifest(folder, file, record);
      request.onFile?.(file);
    } finally {
      fs.rmSync(temporary, { force: true });
    }
  }
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
  ) {
    super(message);
  }
}

function explain(error: unknown, id: string, file: string, hub: HubOptions, ui: UserInterface): DownloadError {
  if (error instanceof DownloadError) return error;
  if (!(error instanceof HttpFailure)) return new DownloadError('disk', `${file} of ${id} could not be saved: ${messageOf(error)}.`);
  const { status, code, host } = error;
  const retry = ui === 'cli' ? 'Run the command again to retry.' : 'Edit the id or save the file to try again.';
  const folder = `put the model in the models folder (${modelsFolderHint(ui)})`;
  const noDownloads = ui === 'cli' ? 'run with --offline' : 'turn downloads off (cloze.allowRemoteModels)';
  const environment = ui === 'cli' ? 'environment' : "editor's environment";
  if (code === 'ABORT') return cancelled();
  if (code === 'CONNECT_TIMEOUT') {
    return new DownloadError(
      'timeout',
      `no connection to ${host} within ${seconds(hub.connectTimeoutMs)}. Check the network (or a proxy), or ${folder}. ${retry}`,
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
      `offline: ${host} cannot be reached (${code}). Connect to the network, or ${folder} or ${noDownloads}. ${retry}`,
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
  if (status === 401 || status === 403) {
    return new DownloadError(
      'unauthorized',
      `the hub refused ${file} (${status}): ${id} is gated or private, or does not exist. Check the id; for a gated model accept its terms on huggingface.co and set HF_TOKEN in the ${environment}.${hub.token ? ' The HF_TOKEN set has no access to it.' : ''}`,
    );
  }
  if (status !== undefined) {
    return new DownloadError('http', `${host} answered ${status} for ${file}. Try again later. ${retry}`);
  }
  return new DownloadError('offline', `${host} cannot be reached (${code ?? error.message}). Check the network. ${retry}`);
}

function seconds(ms: number): string {
  return `${Number((ms / 1000).toFixed(1))} s`;
}

/**
 * One GET into `target`, following redirects (the hub sends large files to a
 * CDN), with the timeouts of `hub`. Reports bytes as they arrive; checks the
 * length and, when the hub names it (`X-Linked-Etag`, the LFS SHA-256), the hash.
 */
async function fetchToFile(
  url: string,
  target: string,
  hub: HubOptions,
  signal: AbortSignal | undefined,
  onBytes: (bytes: number, total: number | undefined) => void,
): Promise<FileRecord> {
  let current = new URL(url);
  let expectedSha: string | undefined;
  for (let redirects = 0; redirects < 10; redirects++) {
    const sameHost = current.host === new URL(hub.endpoint).host;
    const response = await get(current, hub, sameHost ? hub.token : undefined, signal);
    const status = response.statusCode ?? 0;
    const linked = headerOf(response, 'x-linked-etag') ?? headerOf(response, 'etag');
    const sha = linked?.replace(/^W\//, '').replace(/"/g, '');
    if (sha && /^[0-9a-f]{64}$/.test(sha) && expectedSha === undefined) expectedSha = sha;
    if (status >= 300 && status < 400 && response.headers.location) {
      response.resume();
      current = new URL(response.headers.location, current);
      continue;
    }
    if (status !== 200) {
      response.resume();
      throw new HttpFailure(status, undefined, `HTTP ${status}`, current.host);
    }
    const lengthHeader = headerOf(response, 'content-length');
    const total = lengthHeader !== undefined && /^\d+$/.test(lengthHeader) ? Number(lengthHeader) : undefined;
    return receive(response, target, total, expectedSha, hub, signal, onBytes, current.host);
  }
  throw new HttpFailure(undefined, 'REDIRECTS', 'too many redirects', current.host);
}

function headerOf(response: http.IncomingMessage, name: string): string | undefined {
  const value = response.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** Sends a GET and resolves with the response head, or rejects on a timeout, a network error or an abort. */
function get(url: URL, hub: HubOptions, token: string | undefined, signal: AbortSignal | undefined): Promise<http.IncomingMessage> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(new HttpFailure(undefined, 'ABORT', 'aborted', url.host));
    const client = url.protocol === 'http:' ? http : https;
    const headers: Record<string, string> = { 'user-agent': 'cloze-language-server' };
    if (token) headers['authorization'] = `Bearer ${token}`;
    const request = client.get(url, { headers });
    let connectTimer: NodeJS.Timeout | undefined;
    const fail = (code: string, message: string): void => {
      clearTimeout(connectTimer);
      signal?.removeEventListener('abort', onAbort);
      request.destroy();
      reject(new HttpFailure(undefined, code, message, url.host));
    };
    const onAbort = (): void => fail('ABORT', 'aborted');
    signal?.addEventListener('abort', onAbort, { once: true });
    request.on('socket', (socket) => {
      const connected = (): void => {
        clearTimeout(connectTimer);
        // From here on, silence longer than the read timeout ends the request.
        request.setTimeout(hub.readTimeoutMs, () => fail('READ_TIMEOUT', 'no answer'));
      };
      if (socket.connecting) {
        connectTimer = setTimeout(() => fail('CONNECT_TIMEOUT', 'no connection'), hub.connectTimeoutMs);
        socket.once(url.protocol === 'https:' ? 'secureConnect' : 'connect', connected);
      } else connected();
    });
    request.on('error', (error: NodeJS.ErrnoException) => fail(error.code ?? 'ERROR', error.message));
    request.on('response', (response) => {
      clearTimeout(connectTimer);
      signal?.removeEventListener('abort', onAbort);
      resolve(response);
    });
  });
}

/** Streams a response body into `target`, with the read timeout, the abort signal and the length/hash checks. */
function receive(
  response: http.IncomingMessage,
  target: string,
  total: number | undefined,
  expectedSha: string | undefined,
  hub: HubOptions,
  signal: AbortSignal | undefined,
  onBytes: (bytes: number, total: number | undefined) => void,
  host: string,
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
    const onAbort = (): void => finish(new HttpFailure(undefined, 'ABORT', 'aborted', host));
    if (signal?.aborted) return onAbort();
    signal?.addEventListener('abort', onAbort, { once: true });
    response.socket?.setTimeout(hub.readTimeoutMs, () => finish(new HttpFailure(undefined, 'READ_TIMEOUT', 'no data', host)));
    onBytes(0, total);
    response.on('data', (chunk: Buffer) => {
      size += chunk.length;
      hash.update(chunk);
      onBytes(chunk.length, total);
    });
    response.on('error', (error: NodeJS.ErrnoException) => finish(new HttpFailure(undefined, error.code ?? 'ERROR', error.message, host)));
    response.on('aborted', () => finish(new HttpFailure(undefined, 'ECONNRESET', 'the connection broke off', host)));
    out.on('error', (error) => finish(error));
    response.pipe(out);
    out.on('finish', () => {
      if (done) return;
      if (!response.complete || (total !== undefined && size !== total)) {
        return finish(
          new DownloadError(
            'damaged',
            `the download broke off after ${size}${total !== undefined ? ` of ${total}` : ''} bytes. Try again.`,
          ),
        );
      }
      const sha256 = hash.digest('hex');
      if (expectedSha !== undefined && sha256 !== expectedSha) {
        return finish(new DownloadError('damaged', `the file arrived damaged (its SHA-256 is not the hub's). Try again.`));
      }
      finish(undefined, { size, sha256 });
    });
  });
}
