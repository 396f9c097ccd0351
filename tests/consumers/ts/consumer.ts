// Correct use of every option, event, state, result field and error code of smh-upload, as a
// strict TypeScript user writes it. types.test.mjs compiles it (tsc --strict, lib es2022 + dom,
// no skipLibCheck) against the installed tarball; it is never run.

import init, { SmhClient, UploadTask } from 'smh-upload';
import type {
  CheckpointMode,
  CheckpointStore,
  ConflictStrategy,
  CosErrorCode,
  PendingUpload,
  SdkErrorCode,
  SmhClientOptions,
  SmhErrorCode,
  SmhUploadError,
  SmhUploadErrorCode,
  UploadOptions,
  UploadPhase,
  UploadProgress,
  UploadResult,
  UploadState,
  UploadWarning,
  UploadWarningCode,
} from 'smh-upload';

/** `true` when `T` is `any` (only `any` makes `1 & T` accept 0). */
type IsAny<T> = 0 extends 1 & T ? true : false;
/** Compiles only when `T` is `false`. */
type False<T extends false> = T;

// Nothing the user touches is `any`.
export type NoAny = [
  False<IsAny<ConstructorParameters<typeof SmhClient>[0]>>,
  False<IsAny<Parameters<SmhClient['upload']>[0]>>,
  False<IsAny<Parameters<SmhClient['upload']>[2]>>,
  False<IsAny<ReturnType<SmhClient['upload']>>>,
  False<IsAny<Awaited<ReturnType<UploadTask['done']>>>>,
  False<IsAny<UploadTask['state']>>,
  False<IsAny<UploadTask['progress']>>,
  False<IsAny<UploadResult['info']>>,
  False<IsAny<SmhUploadError['code']>>,
  False<IsAny<Awaited<ReturnType<typeof init>>>>,
  False<IsAny<Awaited<ReturnType<SmhClient['pendingUploads']>>>>,
  False<IsAny<Awaited<ReturnType<SmhClient['discardPending']>>>>,
];

/** A store of one's own: async methods. */
const sessionStore: CheckpointStore = {
  async get(key) {
    return sessionStorage.getItem(key);
  },
  async set(key, value) {
    sessionStorage.setItem(key, value);
  },
  async remove(key) {
    sessionStorage.removeItem(key);
  },
};

/** …or synchronous ones returning `undefined` for a missing key. */
const memory = new Map<string, string>();
const memoryStore: CheckpointStore = {
  get: key => memory.get(key),
  set: (key, value) => void memory.set(key, value),
  remove: key => void memory.delete(key),
};

async function tokenFromBackend(): Promise<string> {
  const reply = await fetch('/token', { method: 'POST' });
  const body: { accessToken: string; expiresIn: number } = await reply.json();
  return body.accessToken;
}

const mode: CheckpointMode = 'none';

// Every client option.
const options: SmhClientOptions = {
  baseUrl: 'https://smh.tencentcs.com',
  libraryId: 'smhexample',
  spaceId: '-',
  userId: 'user-1',
  accessToken: 'initial-token',
  getAccessToken: tokenFromBackend,
  allowedDomains: ['*.cos.ap-guangzhou.myqcloud.com', '127.0.0.1:9000'],
  concurrency: 4,
  partSize: 8 * 1024 * 1024,
  multipartThreshold: 8 * 1024 * 1024,
  retries: 5,
  requestTimeout: 30_000,
  stallTimeout: 30_000,
  checkpoints: 'local',
  createParents: true,
};

function describe(state: UploadState): string {
  switch (state) {
    case 'preparing':
    case 'hashing':
    case 'uploading':
    case 'confirming':
      return 'working';
    case 'paused':
      return 'paused';
    case 'done':
      return 'done';
    case 'failed':
    case 'cancelled':
      return 'stopped';
    default: {
      const unreachable: never = state;
      return unreachable;
    }
  }
}

function phaseLabel(phase: UploadPhase): string {
  return { hashing: '计算哈希', uploading: '上传中', confirming: '确认中' }[phase];
}

function showProgress(p: UploadProgress): void {
  const percent = p.total === 0 ? 100 : (100 * p.loaded) / p.total;
  const eta = p.eta === null ? '?' : `${Math.round(p.eta)} s`;
  console.log(`${phaseLabel(p.phase)} ${percent.toFixed(1)}% ${(p.speed / 1e6).toFixed(1)} MB/s, ${eta} left`);
}

function warn(w: UploadWarning): void {
  const code: UploadWarningCode = w.code;
  if (code === 'CrcNotChecked') console.warn('expose x-cos-hash-crc64ecma in the bucket CORS:', w.message);
}

function offerToContinue(pending: PendingUpload[]): string[] {
  return pending.map(p => `${p.name} → ${p.path}: ${Math.round((100 * p.loaded) / p.size)}% (${new Date(p.updatedAt).toISOString()})`);
}

function isSmhUploadError(e: unknown): e is SmhUploadError {
  return e instanceof Error && e.name === 'SmhUploadError';
}

const sdkCodes: SdkErrorCode[] = [
  'InvalidInput', 'DomainNotAllowed', 'Network', 'Timeout', 'IntegrityMismatch',
  'InvalidResponse', 'FileReadError', 'AccessTokenError', 'Aborted', 'InternalError',
];
const smhCode: SmhErrorCode = 'SameNameDirectoryOrFileExists';
const cosCode: CosErrorCode = 'SlowDown';
// Codes a server adds later still fit.
const unlisted: SmhUploadErrorCode = 'SomeFutureServerCode';

function explain(e: SmhUploadError): string {
  const where = e.status === 0 ? 'in the SDK' : `HTTP ${e.status}`;
  const id = e.requestId ?? 'no request id';
  const again = e.retryable ? 'may succeed later' : 'will not succeed as is';
  switch (e.code) {
    case 'Aborted':
      return 'cancelled';
    case 'DirectoryNotFound':
      return 'create the folder first';
    case smhCode:
    case cosCode:
      return `${e.code} (${where}, ${id}), ${again}`;
    default:
      return sdkCodes.includes(e.code as SdkErrorCode) ? `${e.code}: ${e.message}` : `${e.code} ${where} ${id}`;
  }
}

export async function main(file: File, folder: string): Promise<UploadResult | null> {
  await init();
  await init({ module_or_path: new URL('/static/smh_upload_bg.wasm', location.href) });
  const client = new SmhClient(options);
  const second = new SmhClient({ baseUrl: 'https://smh.tencentcs.com', libraryId: 'smhexample', accessToken: 'tok', checkpoints: sessionStore });
  const third = new SmhClient({ baseUrl: 'https://smh.tencentcs.com', libraryId: 'smhexample', getAccessToken: () => 'tok', checkpoints: memoryStore });
  new SmhClient({ baseUrl: 'https://smh.tencentcs.com', libraryId: 'smhexample', accessToken: 'tok', checkpoints: mode });

  const controller = new AbortController();
  const conflict: ConflictStrategy = 'overwrite';
  // Every upload option.
  const uploadOptions: UploadOptions = {
    conflict,
    quickUpload: false,
    createParents: false,
    onProgress: showProgress,
    onStateChange: state => console.log(describe(state)),
    onWarning: warn,
    signal: controller.signal,
  };
  const task: UploadTask = client.upload(file, `${folder}/${file.name}`, uploadOptions);
  // Options are optional; a Blob is a file too.
  second.upload(new Blob(['hello']), 'hello.txt');
  third.upload(file, 'x.bin', { conflict: 'ask' }).cancel();

  console.log(offerToContinue(await client.pendingUploads()));
  const discarded: number = (await client.discardPending('photos/a.jpg')) + (await client.discardPending());

  task.pause();
  const paused: UploadState = task.state;
  console.log(paused, task.progress.loaded);
  task.resume();
  try {
    const result: UploadResult = await task.done();
    const { path, name, size, crc64, instant, isOverwritten, etag, info } = result;
    console.log(path, name, size.toFixed(0), BigInt(crc64), instant, isOverwritten, etag?.length, info['creationTime']);
    return result;
  } catch (e) {
    if (isSmhUploadError(e)) console.error(explain(e), unlisted, discarded);
    return null;
  } finally {
    task.free();
    client.free();
  }
}
