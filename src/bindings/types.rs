//! TypeScript declarations of the options, events and results (the reviewed contract).

use wasm_bindgen::prelude::*;

#[wasm_bindgen(typescript_custom_section)]
const TS_TYPES: &str = r#"
/** Options of `new SmhClient(...)`. Unknown names are refused (`InvalidInput`). */
export interface SmhClientOptions {
  /** SMH API base, e.g. `https://smh.tencentcs.com` (plain http only for loopback hosts). */
  baseUrl: string;
  libraryId: string;
  /** `'-'` (default) for single-tenant libraries. */
  spaceId?: string;
  /** Sent as `user_id` on every SMH call. */
  userId?: string;
  /** A fixed access token… */
  accessToken?: string;
  /** …or a function giving one; called again when SMH refuses the current token. */
  getAccessToken?: () => string | Promise<string>;
  /** Hosts (`a.example.com`, optionally `:port`) or `*.suffix` patterns bytes may go to.
   *  Default: the official COS domains (`*.myqcloud.com`, `*.tencentcos.cn`). */
  allowedDomains?: string[];
  /** Parts in flight across all uploads of this client (1–32, default 4). */
  concurrency?: number;
  /** Part size in bytes (≥ 1 MiB); automatic by default. */
  partSize?: number;
  /** Files larger than this many bytes use multipart upload (default 8 MiB). */
  multipartThreshold?: number;
  /** Retries of one request or part (default 5). */
  retries?: number;
  /** Time limit of one SMH API call, ms (default 30000). */
  requestTimeout?: number;
  /** A part upload without progress for this long is aborted and retried, ms (default 30000). */
  stallTimeout?: number;
  /** Where upload checkpoints are kept (default `'local'`). */
  checkpoints?: 'local' | 'none' | CheckpointStore;
}

export interface CheckpointStore {
  get(key: string): string | null | undefined | Promise<string | null | undefined>;
  set(key: string, value: string): void | Promise<void>;
  remove(key: string): void | Promise<void>;
}

export type UploadState = 'hashing' | 'uploading' | 'paused' | 'confirming' | 'done' | 'failed' | 'cancelled';

export interface UploadProgress {
  phase: 'hashing' | 'uploading' | 'confirming';
  /** Bytes done in this phase; never decreases within a phase. */
  loaded: number;
  total: number;
  /** Bytes per second (smoothed). */
  speed: number;
  /** Seconds left, or `null` while unknown. */
  eta: number | null;
}

/** Options of `client.upload(...)`. */
export interface UploadOptions {
  /** When the name exists: `'rename'` (default), `'overwrite'` or `'ask'` (fail). */
  conflict?: 'rename' | 'overwrite' | 'ask';
  /** Try quick upload (秒传) by hash for files ≥ 1 MiB (default true). */
  quickUpload?: boolean;
  onProgress?: (progress: UploadProgress) => void;
  onStateChange?: (state: UploadState) => void;
  /** Aborting it cancels the upload like `task.cancel()`. */
  signal?: AbortSignal;
}

export interface UploadResult {
  /** Final path in the library (may differ from the requested one after a rename). */
  path: string;
  name: string;
  size: number;
  /** CRC-64/ECMA of the file, decimal. */
  crc64: string;
  /** Quick upload hit: no byte was sent. */
  instant: boolean;
  isOverwritten: boolean;
  etag: string | null;
  /** SMH's whole reply. */
  info: Record<string, unknown>;
}

/** Every error the SDK throws or rejects with. */
export interface SmhUploadError extends Error {
  name: 'SmhUploadError';
  /** SMH/COS code, or the SDK's own: `DomainNotAllowed`, `Aborted`, `IntegrityMismatch`,
   *  `InvalidInput`, `InvalidResponse`, `Network`, `Timeout`, `FileReadError`, `AccessTokenError`. */
  code: string;
  /** HTTP status, or 0. */
  status: number;
  requestId: string | null;
  retryable: boolean;
}
"#;
