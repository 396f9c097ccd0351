//! TypeScript declarations of the options, events, states, results, errors and classes (the
//! reviewed contract of the JS API). The classes are the JS layer's (src/bindings/js/), declared
//! here by hand, each in the builds that have it; the wasm's own classes are undeclared
//! (`skip_typescript`). `tests/consumers/ts/` compiles correct and wrong uses of them with
//! `tsc --strict`.

use wasm_bindgen::prelude::*;

#[wasm_bindgen(typescript_custom_section)]
const TS_TYPES: &str = r#"
/**
 * Options of `new SmhClient(options)`. Names not listed here are refused with `InvalidInput`.
 * Give `accessToken`, `getAccessToken`, or both.
 */
export interface SmhClientOptions {
  /**
   * Base URL of the SMH API, e.g. `https://smh.tencentcs.com` or your library's own
   * `https://<libraryId>.api.tencentsmh.cn`. Must be `https://` (plain `http://` only for
   * loopback hosts); no query or fragment.
   */
  baseUrl: string;
  /** The library's id (`smh…`), from the SMH console. */
  libraryId: string;
  /** Tenant space id; `'-'` (the default) for single-tenant libraries. */
  spaceId?: string;
  /** Sent as `user_id` on every SMH call: who SMH records as the operator. */
  userId?: string;
  /**
   * An access token minted by your backend. Without `getAccessToken` it is used as is; with
   * it, it is the first token used before `getAccessToken` is called.
   */
  accessToken?: string;
  /**
   * Gives a fresh access token (from your backend). Called when no `accessToken` is given and
   * again whenever SMH answers `InvalidAccessToken` (expired or revoked); the refused request
   * is then repeated once. What it returns is taken as `Promise.resolve` takes it (a promise of
   * any realm, any thenable, or the token itself). A throw, a rejection, an empty string, or a
   * promise that has not settled within `requestTimeout` fails the upload with
   * `AccessTokenError`, which is `retryable` (it is called again on the next try): an upload
   * that had parts on the server keeps its record for `upload()` of the file to resume.
   */
  getAccessToken?: () => string | PromiseLike<string>;
  /**
   * Hosts the file bytes may be sent to: exact hosts (`bucket-1250000000.cos.ap-guangzhou.myqcloud.com`)
   * or `*.suffix` patterns, each optionally with `:port` (then only that port). SMH names the
   * upload domain; one not matched fails with `DomainNotAllowed` before any byte is sent.
   * Default: `['*.myqcloud.com', '*.tencentcos.cn']` (the official COS domains).
   */
  allowedDomains?: string[];
  /** Parts in flight across all uploads of this client: an integer 1–32 (default 6). */
  concurrency?: number;
  /**
   * Part size in bytes for multipart uploads: 1 MiB – 512 MiB, at most 10 000 parts per file.
   * In browsers a part is sent as a slice of the `File` (its CRC-64 is computed in a Worker a
   * few MiB at a time); in mini-programs each part is read into memory once. Default: automatic
   * (up to 8 MiB; larger for files above 80 GiB, to stay within 10 000 parts).
   */
  partSize?: number;
  /**
   * Files larger than this many bytes use multipart upload, smaller ones one PUT; at most
   * 512 MiB (default 8 MiB).
   */
  multipartThreshold?: number;
  /**
   * Retries of one request or part before the upload fails: an integer, capped at 100
   * (default 5). A part's count starts again whenever a retry got further than the tries before
   * it; one upload spends at most 100 part retries in all.
   */
  retries?: number;
  /**
   * Time limit in milliseconds of one SMH API call, of `getAccessToken()`, and of each call
   * into the checkpoint store; 100 – 2147483647 (default 30000). The confirm call may take one
   * second more per 32 MiB of the file (SMH assembles the parts before it answers).
   */
  requestTimeout?: number;
  /**
   * A part upload that makes no progress for this many milliseconds is aborted and retried;
   * 100 – 2147483647 (default 30000).
   */
  stallTimeout?: number;
  /**
   * How long, in milliseconds, an upload waits for the network while the device is offline
   * (`navigator.onLine`, `wx.onNetworkStatusChange`): nothing is sent and no retry is spent
   * meanwhile, progress carries `waiting: 'offline'`, and the upload goes on when the network
   * is back; past this limit it fails with `Network`. 0 – 2147483647 (default 600000).
   */
  offlineTimeout?: number;
  /**
   * Where records of unfinished multipart uploads are kept, so that `upload()` of the same
   * file to the same path continues one after a reload (see `pendingUploads()`): `'local'`
   * (the default: IndexedDB; `localStorage` where IndexedDB cannot be opened; nothing where
   * neither works; WeChat's storage in mini-programs), `'none'`, or your own store. A `File`
   * is the same file when its name, size and `lastModified` are; a `Blob` without them, when
   * its size and first MiB are. Records hold SMH's upload ids and the parts' CRCs, never the
   * access token; a resumed part is kept only if the file's bytes still give the CRC recorded.
   * One upload continues a record at a time (across tabs with the Web Locks API): a second
   * upload of a file that another tab or client is uploading to the same path runs on its own
   * server upload and keeps no record. A record pruned (7 days old, or beyond the newest 50)
   * has its server upload cancelled.
   */
  checkpoints?: CheckpointMode | CheckpointStore;
  /**
   * Default of the upload option `createParents`: create missing parent folders of the
   * target path (default `true`).
   */
  createParents?: boolean;
  /**
   * Quick upload's longest head start, in ms (default 1000): when SMH holds a file that may be
   * the same, the full file is hashed before any byte is sent only while that hash is predicted
   * to take at most this long. A slower hash (a large file, a slow device) goes on while the
   * parts are sent; if it proves a hit first, sending stops and the result is `instant`. `0`:
   * send from the start. See `UploadOptions.quickUpload`.
   */
  quickUploadWait?: number;
}

/** The built-in checkpoint stores: `'local'` (IndexedDB, else `localStorage`; WeChat's storage in mini-programs) or none. */
export type CheckpointMode = 'local' | 'none';

/**
 * A checkpoint store of your own (IndexedDB, a server, …); each method may be async (any
 * thenable). A call that has not settled within `requestTimeout` counts as failed: nothing read,
 * nothing written, and the upload goes on.
 */
export interface CheckpointStore {
  /** The value stored under `key`, or `null` / `undefined` when there is none. */
  get(key: string): string | null | undefined | Promise<string | null | undefined>;
  /** Stores `value` (a JSON string) under `key`. */
  set(key: string, value: string): void | Promise<void>;
  /** Forgets `key`. */
  remove(key: string): void | Promise<void>;
}

/**
 * Where an upload is: `preparing → [hashing →] uploading ⇄ paused → confirming → done`, or
 * `failed` / `cancelled` from any state that is not final. A quick-upload hit goes to `done`
 * from `hashing`, or from `uploading` / `paused` when the parts were sent while the whole file
 * was hashed (see `SmhClientOptions.quickUploadWait`).
 *
 * - `preparing`: before the first byte: asking SMH for the upload, or finding the one to resume
 * - `hashing`: reading the file for the quick-upload (秒传) hashes
 * - `uploading`: sending bytes (or waiting for a connection slot)
 * - `paused`: stopped by `pause()`; nothing in flight, finished parts kept
 * - `confirming`: committing the file with SMH
 * - `done`: the file exists in the library (final)
 * - `failed`: stopped by an error; `done()` rejects with it (final)
 * - `cancelled`: stopped by `cancel()` or the `signal`; `done()` rejects with `Aborted` (final; see
 *   `UploadTask.cancel()` for when a cancel has to wait)
 */
export type UploadState = 'preparing' | 'hashing' | 'uploading' | 'paused' | 'confirming' | 'done' | 'failed' | 'cancelled';

/** The phase a progress report measures. */
export type UploadPhase = 'hashing' | 'uploading' | 'confirming';

/** A progress report (`onProgress`, `task.progress`). */
export interface UploadProgress {
  /** What `loaded` counts: bytes hashed, bytes sent, or the confirm step. */
  phase: UploadPhase;
  /** Bytes done in this phase; never decreases within a phase. */
  loaded: number;
  /** The file's size in bytes. */
  total: number;
  /** Bytes per second, smoothed. */
  speed: number;
  /** Seconds left in this phase, or `null` while unknown. */
  eta: number | null;
  /** `'offline'` while the upload waits for the network (see `offlineTimeout`). */
  waiting?: 'offline';
}

/** What happens when the path already exists in the library. */
export type ConflictStrategy = 'rename' | 'overwrite' | 'ask';

/** Options of `client.upload(file, path, options)`. Names not listed here are refused with `InvalidInput`. */
export interface UploadOptions {
  /**
   * When the path exists: `'rename'` (the default: SMH picks a free name, see
   * `UploadResult.path`), `'overwrite'`, or `'ask'` (fail with `SameNameDirectoryOrFileExists`).
   */
  conflict?: ConflictStrategy;
  /**
   * Try quick upload (秒传) first: for files of at least 1 MiB the first MiB's hash is sent
   * with the begin; when SMH holds a file that may be the same, the whole file is hashed and,
   * when SMH holds the same content, the file is stored without sending it
   * (`UploadResult.instant`). Quick upload never delays the first byte by more than about the
   * client's `quickUploadWait` (1 s by default): a hash predicted to take longer goes on while
   * the parts are sent, and stops them if it proves a hit first (the state is then `uploading`
   * and progress counts bytes sent; before that, `hashing` counts bytes hashed). Default `true`.
   */
  quickUpload?: boolean;
  /**
   * Create the missing parent folders of `path` (SMH does not; without them it answers
   * `DirectoryNotFound`). Default: the client's `createParents`, itself `true` by default.
   */
  createParents?: boolean;
  /** Called with each progress report, at most about every 100 ms, and at the end of a phase. */
  onProgress?: (progress: UploadProgress) => void;
  /** Called with each new state. */
  onStateChange?: (state: UploadState) => void;
  /**
   * Called with conditions that do not stop the upload but deserve attention; without it they
   * go to `console.warn`.
   */
  onWarning?: (warning: UploadWarning) => void;
  /** Aborting it cancels the upload like `task.cancel()`. */
  signal?: AbortSignal;
}

/**
 * Codes of `UploadWarning`:
 *
 * - `CrcNotChecked`: COS's replies carry no readable `x-cos-hash-crc64ecma` header (add it to
 *   the bucket's CORS ExposeHeaders), so parts are not checked one by one; the whole file's
 *   CRC-64 is still checked when the upload is confirmed
 */
export type UploadWarningCode = 'CrcNotChecked';

/** Something that does not stop the upload but deserves attention (`onWarning`). */
export interface UploadWarning {
  code: UploadWarningCode;
  /** A readable account, with what to change. */
  message: string;
}

/** An unfinished upload that `upload()` of the same file to the same path would continue. */
export interface PendingUpload {
  /** Target path in the library, as given to `upload()`. */
  path: string;
  /** The file's name. */
  name: string;
  /** The file's size in bytes. */
  size: number;
  /** Bytes already stored (parts done). */
  loaded: number;
  /** When it last made progress, in milliseconds since the epoch (`new Date(updatedAt)`). */
  updatedAt: number;
}

/** What `task.done()` resolves with. */
export interface UploadResult {
  /** Final path in the library; differs from the requested one after a `'rename'`. */
  path: string;
  /** Final file name (the last segment of `path`). */
  name: string;
  /** Size in bytes. */
  size: number;
  /** CRC-64/ECMA-182 of the file's bytes, as a decimal string (COS's `x-cos-hash-crc64ecma`). */
  crc64: string;
  /**
   * `true` when quick upload (秒传) found the content: SMH stored the file from its hash. No
   * byte was sent, unless the hash took longer than `quickUploadWait`: then parts were being
   * sent until it proved the hit (and their upload was cancelled).
   */
  instant: boolean;
  /** `true` when an existing file was replaced (`conflict: 'overwrite'`). */
  isOverwritten: boolean;
  /** The object's ETag as SMH reports it, or `null`. */
  etag: string | null;
  /** SMH's whole confirm reply, as it sent it. */
  info: Record<string, unknown>;
}

/**
 * Options of `new CosUploader(options)`: direct uploads to one COS bucket with temporary
 * credentials (the SDK signs every request). Names not listed here are refused with `InvalidInput`.
 * `allowedDomains`, `concurrency`, `partSize`, `multipartThreshold`, `retries`, `requestTimeout`,
 * `stallTimeout`, `offlineTimeout` and `checkpoints` mean what they mean for `SmhClientOptions`.
 */
export interface CosUploaderOptions {
  /** The bucket, `name-appid`, e.g. `examplebucket-1250000000`. */
  bucket: string;
  /** The bucket's region, e.g. `ap-guangzhou`. */
  region: string;
  /**
   * `host[:port]` requests go to; default `{bucket}.cos.{region}.myqcloud.com`. Sent over
   * https (plain http only for loopback hosts). The scheme's default port (`:443`, `:80` for
   * http) is dropped, as browsers drop it from `Host`.
   */
  domain?: string;
  /**
   * Gives temporary credentials from your backend. Called before the first request, again
   * before they expire (with a margin of a quarter of their lifetime, at most 5 minutes) and
   * when COS refuses them; parallel parts share one call. What it returns is taken as
   * `Promise.resolve` takes it (a promise of any realm, any thenable, or the keys themselves). A
   * throw, a rejection, an unusable shape, or a promise that has not settled within
   * `requestTimeout` fails the upload with `CredentialsError`, which is `retryable` (it is called
   * again on the next try): an upload that had parts on the server keeps its record and its
   * multipart upload for `upload()` of the file to resume.
   */
  getCredentials: () => CosCredentials | PromiseLike<CosCredentials>;
  /** Default: the bucket's domain only. A `domain` it does not match throws `DomainNotAllowed`. */
  allowedDomains?: string[];
  concurrency?: number;
  partSize?: number;
  multipartThreshold?: number;
  retries?: number;
  requestTimeout?: number;
  stallTimeout?: number;
  offlineTimeout?: number;
  checkpoints?: CheckpointMode | CheckpointStore;
}

/** STS GetFederationToken / AssumeRole output (`Response` or its content). */
export interface StsCredentials {
  Credentials: { TmpSecretId: string; TmpSecretKey: string; Token: string };
  /** Unix seconds: when the keys were issued (they may be cached and handed out later). */
  StartTime?: number;
  /** Unix seconds. Give this or `Expiration`. */
  ExpiredTime?: number;
  /** RFC 3339 time. */
  Expiration?: string;
}

/** VOD CreateStorageCredentials output (`Response` or its content). */
export interface VodCredentials {
  Credentials: { AccessKeyId: string; SecretAccessKey: string; SessionToken: string; Expiration: string };
}

/** Flat credentials, as `qcloud-cos-sts` helpers reshape them. */
export interface FlatCredentials {
  tmpSecretId: string;
  tmpSecretKey: string;
  sessionToken: string;
  /** Unix seconds: when the keys were issued. */
  startTime?: number;
  /** Unix seconds. */
  expiredTime: number;
}

/** What `getCredentials()` may return. */
export type CosCredentials =
  | StsCredentials | VodCredentials | FlatCredentials
  | { Response: StsCredentials | VodCredentials }
  | { credentials: { tmpSecretId: string; tmpSecretKey: string; sessionToken: string }; startTime?: number; expiredTime: number };

/** Options of `cos.upload(file, key, options)`. Names not listed here are refused with `InvalidInput`. */
export interface CosUploadOptions {
  /** The object's `Content-Type` (printable ASCII); default: the `File`'s or `Blob`'s `type`, if it has one. */
  contentType?: string;
  /** User metadata stored as `x-cos-meta-{name}` (names: letters, digits, `-`, `_`, compared without case, so `A` and `a` together are `InvalidInput`; values printable ASCII; 2 KB in all). */
  meta?: Record<string, string>;
  onProgress?: (progress: UploadProgress) => void;
  onStateChange?: (state: UploadState) => void;
  onWarning?: (warning: UploadWarning) => void;
  /** Aborting it cancels the upload like `task.cancel()`. */
  signal?: AbortSignal;
}

/** What a direct-COS `task.done()` resolves with. */
export interface CosUploadResult {
  /** The object key. */
  key: string;
  /** Size in bytes. */
  size: number;
  /** CRC-64/ECMA-182 of the object's bytes, as a decimal string (checked against COS's). */
  crc64: string;
  /** The object's ETag as COS returned it (quoted), or `null` when the bucket's CORS hides it. */
  etag: string | null;
  /** `{domain}/{key}`. */
  location: string;
}

/** A direct-COS upload's task: `UploadTask` whose `done()` gives a `CosUploadResult`. */
export interface CosUploadTask extends Omit<UploadTask, 'done'> {
  done(): Promise<CosUploadResult>;
}

/** An unfinished direct-COS upload that `upload()` of the same file to the same key would continue. */
export interface PendingCosUpload {
  /** The object key. */
  key: string;
  name: string;
  size: number;
  loaded: number;
  updatedAt: number;
}

/**
 * The SDK's own error codes.
 *
 * - `InvalidInput`: a bad argument or option (thrown synchronously; the message names it)
 * - `DomainNotAllowed`: SMH named an upload domain `allowedDomains` does not match; nothing was sent
 * - `Network`: the request did not complete (refused, reset, DNS, blocked by CORS); retried.
 *   Also: the device was offline for longer than `offlineTimeout`
 * - `Timeout`: no answer within `requestTimeout`, or no progress within `stallTimeout`; retried
 * - `IntegrityMismatch`: the server stored bytes whose CRC-64 differs from the bytes read
 * - `InvalidResponse`: a server reply that does not follow the protocol
 * - `FileReadError`: the file could not be read, or it changed during the upload
 * - `AccessTokenError`: `getAccessToken()` threw, rejected, gave no token or did not settle within `requestTimeout`
 *   (retryable: it is called again on the next try)
 * - `CredentialsError`: `getCredentials()` threw, rejected, gave no usable temporary credentials or did not settle within `requestTimeout`
 *   (retryable: it is called again on the next try)
 * - `Aborted`: the upload was cancelled (`task.cancel()` or the `signal`)
 * - `InternalError`: the SDK stopped on an internal error (a bug; please report it)
 */
export type SdkErrorCode =
  | 'InvalidInput' | 'DomainNotAllowed' | 'Network' | 'Timeout' | 'IntegrityMismatch'
  | 'InvalidResponse' | 'FileReadError' | 'AccessTokenError' | 'CredentialsError' | 'Aborted' | 'InternalError';

/**
 * Codes the SMH API answers with that an upload can meet (SMH's error table; `status` carries
 * the HTTP status).
 */
export type SmhErrorCode =
  | 'EmptyAccessToken' | 'InvalidAccessToken' | 'AccessTokenNotMatchSpace' | 'AccessTokenNotMatchLibrary'
  | 'NoPermission' | 'LibraryNotFound' | 'SpaceNotFound' | 'DirectoryNotFound'
  | 'SameNameDirectoryOrFileExists' | 'DirectoryNotAllowed' | 'DirectoryLevelExceed'
  | 'UploadToRootDirectoryNotAllowed' | 'ExtnameNotAllowed' | 'IllegalFileName' | 'FileNameLengthExceed'
  | 'DirectoryNameLengthExceed' | 'InvalidConflictResolutionStrategy' | 'OverwriteFileNotAllowed'
  | 'QuotaLimitReached' | 'BadCrc64' | 'UploadIncomplete' | 'MultipartUploadIncomplete'
  | 'MultipartUploadPartTooSmall' | 'UploadNotFound' | 'ConfirmKeyNotFound' | 'UploadComplete'
  | 'RenameTooManyTimes' | 'PathConflict' | 'SpaceBanned' | 'LibraryServiceExpired' | 'WriteForbidden'
  | 'SensitiveContentRecognized' | 'RateLimitExceeded' | 'ParamInvalid' | 'BadRequest'
  | 'InternalServerError' | 'ServerOverloaded' | 'RequestTimeout';

/**
 * Codes the COS bucket answers with that an upload can meet (COS's `<Error><Code>`). A bucket
 * whose CORS rules refuse the page is not among them: the browser then hides COS's answer and
 * the upload fails with `Network`.
 */
export type CosErrorCode =
  | 'AccessDenied' | 'SignatureDoesNotMatch' | 'RequestTimeTooSkewed' | 'ExpiredToken' | 'InvalidToken' | 'InvalidAccessKeyId'
  | 'EntityTooLarge' | 'EntityTooSmall' | 'InvalidPart' | 'InvalidArgument'
  | 'InvalidRequest' | 'NoSuchBucket' | 'NoSuchUpload' | 'RequestTimeout' | 'InternalError'
  | 'ServiceUnavailable' | 'SlowDown';

/**
 * `SmhUploadError.code`: the SDK's own code, or the code SMH or COS answered with. Servers may
 * send codes not listed here, so the type stays open (`string & {}` keeps editors' completion
 * of the listed ones).
 */
export type SmhUploadErrorCode = SdkErrorCode | SmhErrorCode | CosErrorCode | (string & {});

/**
 * Every error the SDK throws or rejects with: an `Error` whose `name` is `'SmhUploadError'`.
 * Messages never contain tokens, signatures or query strings.
 */
export interface SmhUploadError extends Error {
  name: 'SmhUploadError';
  /** See `SdkErrorCode`, `SmhErrorCode`, `CosErrorCode`. */
  code: SmhUploadErrorCode;
  /** HTTP status of the failed request, or 0 when there was none. */
  status: number;
  /** The server's request id (give it to Tencent support), or `null`. */
  requestId: string | null;
  /** Whether the same request may succeed when repeated (the SDK already retried it). */
  retryable: boolean;
}
"#;

// The classes, as src/bindings/js/ defines them (the wasm's own classes are internal and
// undeclared).

#[wasm_bindgen(typescript_custom_section)]
const TS_TASK: &str = r#"
/**
 * One upload.
 */
export class UploadTask {
    private constructor();
    free(): void;
    /**
     * Aborts in-flight requests and cancels the upload on the server; the state becomes
     * `'cancelled'` and `done()` rejects with code `Aborted` at once — also while the server is
     * opening the upload (what it opens is cancelled when its reply arrives). While the server
     * commits the file (confirm, CompleteMultipartUpload, a quick-upload hit) its answer decides
     * whether the file exists, so a cancel waits for it, at most the call's time limit
     * (`requestTimeout`, for a commit plus a second per 32 MiB): a file committed is reported
     * done; with no answer by then the task is cancelled and its record kept, and `upload()` of
     * the same file learns whether the file was committed.
     */
    cancel(): void;
    /**
     * Resolves with the uploaded file, or rejects with an `SmhUploadError`.
     */
    done(): Promise<UploadResult>;
    /**
     * Stops sending: in-flight requests are aborted; finished parts are kept.
     */
    pause(): void;
    /**
     * Continues a paused upload.
     */
    resume(): void;
    /**
     * The latest progress report.
     */
    readonly progress: UploadProgress;
    /**
     * `'preparing' | 'hashing' | 'uploading' | 'paused' | 'confirming' | 'done' | 'failed' | 'cancelled'`.
     */
    readonly state: UploadState;
}
"#;

#[cfg(feature = "smh-client")]
#[wasm_bindgen(typescript_custom_section)]
const TS_SMH_CLIENT: &str = r#"
/**
 * An SMH upload client (one per library/space and credentials).
 */
export class SmhClient {
    free(): void;
    /**
     * Forgets the unfinished uploads to `path` (all of them without it) and cancels them on
     * the server; resolves with how many.
     */
    discardPending(path?: string): Promise<number>;
    /**
     * Creates a client. Throws `SmhUploadError` (`InvalidInput`) for bad options.
     */
    constructor(options: SmhClientOptions);
    /**
     * Unfinished uploads that `upload()` of the same file to the same path would continue
     * (after a reload, say): `[{path, size, loaded, name, updatedAt}]`, newest first. Not one
     * running now in this client or in another tab of the origin.
     */
    pendingUploads(): Promise<PendingUpload[]>;
    /**
     * Starts uploading `file` (a `Blob` or `File`) to `path` in the library. Throws
     * `SmhUploadError` (`InvalidInput`) for a bad file, path or option; everything later is
     * reported through the task.
     */
    upload(file: Blob, path: string, options?: UploadOptions): UploadTask;
}
"#;

#[cfg(feature = "cos-uploader")]
#[wasm_bindgen(typescript_custom_section)]
const TS_COS_UPLOADER: &str = r#"
/**
 * Uploads straight to one COS bucket with temporary credentials.
 */
export class CosUploader {
    free(): void;
    /**
     * Forgets the unfinished uploads to `key` (all of them without it) and aborts them on COS;
     * resolves with how many.
     */
    discardPending(key?: string): Promise<number>;
    /**
     * Creates an uploader. Throws `SmhUploadError`: `InvalidInput` for bad options,
     * `DomainNotAllowed` when `allowedDomains` does not allow the bucket's domain.
     */
    constructor(options: CosUploaderOptions);
    /**
     * Unfinished uploads that `upload()` of the same file to the same key would continue:
     * `[{key, size, loaded, name, updatedAt}]`, newest first. Not one running now in this
     * uploader or in another tab of the origin.
     */
    pendingUploads(): Promise<PendingCosUpload[]>;
    /**
     * Starts uploading `file` to the object `key`. Throws `SmhUploadError` (`InvalidInput`)
     * for a bad file, key or option; everything later is reported through the task.
     */
    upload(file: Blob, key: string, options?: CosUploadOptions): CosUploadTask;
}
"#;
