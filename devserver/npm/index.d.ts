// Types of smh-devserver's JS API (index.js). The READY fields, the flags the options map to and
// the /_dev/ hooks are described in this package's README.

/** Options of {@link startDevserver}; each maps to one `smh-devserver` flag. */
export interface DevserverOptions {
  /** `--www DIR`: served at `/` of the app origin (your upload page). Default: a built-in page. */
  www?: string;
  /** `--pkg DIR`: served at `/pkg/` of the app origin (e.g. `node_modules/smh-upload`). */
  pkg?: string;
  /**
   * `--data DIR`: SQLite metadata and object bytes, kept after `stop()`. Default: a fresh, empty
   * temporary directory, removed on `stop()`.
   */
  data?: string;
  /** `--multi-tenant`: the library has tenant spaces; a first one is reported as `spaceId`. */
  multiTenant?: boolean;
  /** `--multi-album`: spaces are in multi-album mode (uploads only into first-level albums). */
  multiAlbum?: boolean;
  /** `--media-library`: media-library rules instead of the default file library. */
  mediaLibrary?: boolean;
  /** `--app-port N`: port of the app origin; 0 or absent = any free port. */
  appPort?: number;
  /** `--smh-port N`: port of the SMH API; 0 or absent = any free port. */
  smhPort?: number;
  /** `--cos-port N`: port of the COS bucket; 0 or absent = any free port. */
  cosPort?: number;
  /**
   * `--allowed-host NAME`, once per name: also answer requests whose `Host` is one of these
   * (e.g. a name your hosts file maps to 127.0.0.1). Without it only loopback names are answered;
   * any other `Host` gets 421 (a guard against DNS rebinding).
   */
  allowedHosts?: string[];
  /**
   * More arguments, placed before the flags of the options above: flags they have none for
   * (`--host ADDR`), or, with `binary` a wrapper such as `node`, its script.
   */
  args?: string[];
  /**
   * The `smh-devserver` executable. Default: `SMH_DEVSERVER_BIN`, else the binary this package
   * carries for the platform.
   */
  binary?: string;
  /** Environment variables added to this process's (e.g. `SMH_DEVSERVER_LOG: 'info'`). */
  env?: Record<string, string>;
  /** `'pipe'` (default): the devserver's stderr is kept for `stderr()`; `'inherit'`: it goes to this process's stderr. */
  stderr?: 'pipe' | 'inherit';
  /** How long to wait for the READY line, in milliseconds (default 30000). */
  readyTimeoutMs?: number;
}

/** The JSON of the `SMH_DEVSERVER_READY {json}` line. */
export interface Ready {
  /** URL of the customer backend: `POST /token`, `POST /credentials`, the `/_dev/` hooks, `--www` at `/`, `--pkg` at `/pkg/`. */
  app: string;
  /** URL of the SMH API (the `baseUrl` of an SMH client). */
  smh: string;
  /** `host:port` of the COS bucket (no scheme, as SMH returns its upload `domain`). */
  cos: string;
  libraryId: string;
  /** The secret a backend mints access tokens with. */
  librarySecret: string;
  /** `-` for a single-tenant library; the first space with `multiTenant`. */
  spaceId: string;
  /** The COS bucket, `name-appid`. */
  bucket: string;
  region: string;
  /** The bucket owner's permanent COS key pair, for Tencent's own COS SDKs. */
  secretId: string;
  secretKey: string;
  multiTenant: boolean;
  multiAlbum: boolean;
  mediaLibrary: boolean;
  /** The data directory. */
  data: string;
}

/** An object the bucket holds (`GET /_dev/objects`). */
export interface DevObject {
  key: string;
  size: number;
  /** SHA-256 of the stored bytes, hex, computed by the devserver from what it stored. */
  sha256: string;
  /** CRC-64/ECMA of the stored bytes, as a decimal string. */
  crc64: string;
  etag: string;
  /** The SMH library path of the file it backs, or null. */
  smhPath: string | null;
  spaceId: string | null;
}

/** What a fault rule does when it fires. */
export type FaultAction =
  | { type: 'status'; status: number; code?: string; message?: string }
  | { type: 'reset' }
  | { type: 'delay'; ms: number }
  | { type: 'stall'; ms?: number }
  | { type: 'expired' }
  | { type: 'badCrc' }
  | { type: 'dropReply' };

/** A fault rule for `faults.add` (`POST /_dev/faults`). */
export interface FaultRule {
  origin: 'smh' | 'cos';
  method?: string;
  /** A substring of the path, or a glob over the whole path with `*`. */
  path?: string;
  /** A query parameter that must be present (e.g. `partNumber`). */
  query?: string;
  /** Let this many matches through first. */
  skip?: number;
  /** Only every Nth match may fire. */
  every?: number;
  /** Probability per candidate, 0–1 (reproducible with `seed`). */
  rate?: number;
  seed?: number;
  /** How often it fires (default 1). */
  times?: number;
  action: FaultAction;
}

/** A rule as `GET /_dev/faults` reports it: with its id and how often it was seen and fired. */
export interface FaultRuleState extends FaultRule {
  id: number;
  /** Matches still let through before it fires. */
  skip: number;
  /** Firings left. */
  times: number;
  seen: number;
  fired: number;
}

/** A request the smh or cos origin received (`GET /_dev/log`); no token, signature or key. */
export interface LogEntry {
  seq: number;
  timeMs: number;
  origin: 'smh' | 'cos';
  method: string;
  path: string;
  /** The operation, e.g. `PutObject`, `UploadPart`, `CompleteMultipartUpload`. */
  op: string;
  status: number;
  bytesIn: number;
  /** The fault action applied to it (`status`, `reset`, `delay`, `stall`, `expired`, `badCrc`, `dropReply`), or null. */
  fault: FaultAction['type'] | null;
}

export interface LogFilter {
  origin?: 'smh' | 'cos';
  op?: string;
  /** Only entries after this sequence number. */
  since?: number;
}

/** The devserver's settings (`GET|POST /_dev/config`). */
export interface DevConfig {
  uploadTtlSeconds: number;
  cosDomain: string | null;
  minPartSize: number;
  quotaBytes: number | null;
  maxJsonBody: number;
}

/** A confirmed file to create (`POST /_dev/seed`): `base64` bytes, or `size` bytes of `byte`. */
export type SeedFile = { path: string; spaceId?: string } & ({ base64: string } | { size: number; byte?: number });

/** Open uploads (`GET /_dev/uploads`). */
export interface OpenUploads {
  smh: Array<{ confirmKey: string; spaceId: string; path: string; kind: string; uploadId: string | null; state: string; key: string }>;
  cos: Array<{ key: string; uploadId: string; initiated: string; parts: number }>;
}

/** The app origin's `/_dev/` hooks (and `POST /token`). */
export interface DevHooks {
  /** Any hook: `dev('GET', 'objects')`; resolves to the parsed JSON answer (null when empty); rejects unless 2xx. */
  dev<T = unknown>(method: string, path: string, body?: unknown): Promise<T>;
  faults: {
    /** Adds one rule or several; resolves to every rule now installed. */
    add(rules: FaultRule | FaultRule[]): Promise<FaultRuleState[]>;
    list(): Promise<FaultRuleState[]>;
    clear(): Promise<void>;
  };
  /** What the bucket really holds. */
  objects(): Promise<DevObject[]>;
  /** The object backing library file `path` (a leading `/` is ignored), or undefined. */
  objectAt(path: string): Promise<DevObject | undefined>;
  uploads(): Promise<OpenUploads>;
  log(filter?: LogFilter): Promise<LogEntry[]>;
  /** The highest log sequence number so far (pass it as `since` later). */
  logMark(): Promise<number>;
  clearLog(): Promise<void>;
  /** Expires one access token, or all; resolves to how many. */
  expireTokens(accessToken?: string): Promise<number>;
  /** Expires every upload authorisation SMH handed out. */
  expireUploads(): Promise<void>;
  /** Expires one temporary COS key (by `tmpSecretId`) from `POST /credentials`, or all; resolves to how many. */
  expireCredentials(tmpSecretId?: string): Promise<number>;
  /** Reads the settings, or changes the given ones (`null` resets `cosDomain` / `quotaBytes`); resolves to all of them. */
  config(settings?: Partial<DevConfig>): Promise<DevConfig>;
  /** Creates a confirmed, quick-uploadable file; resolves to its file info. */
  seed(file: SeedFile): Promise<Record<string, unknown>>;
  /** `POST /token` of the customer backend: a fresh access token. */
  token(body?: {
    spaceId?: string;
    userId?: string;
    clientId?: string;
    sessionId?: string;
    /** `'a,b'` or `['a', 'b']`. */
    grant?: string | string[];
    /** Lifetime in seconds. */
    period?: number | string;
  }): Promise<{ accessToken: string; expiresIn: number }>;
}

/** A running devserver: the READY fields, its hooks, and how to stop it. */
export interface Devserver extends Ready, DevHooks {
  /** The READY JSON as printed. */
  ready: Ready;
  pid: number;
  /** The tail of what it logged on stderr (with `stderr: 'pipe'`). */
  stderr(): string;
  /** Resolves when the process exited. */
  exited: Promise<{ code: number | null; signal: string | null }>;
  /** SIGTERM (SIGKILL after `graceMs`, default 5000), then the temporary data directory removed. */
  stop(options?: { graceMs?: number }): Promise<void>;
  /** SIGKILL, as a crash: no clean-up; the data directory stays until `stop()`. */
  kill(): Promise<void>;
}

/**
 * Starts `smh-devserver` and resolves once it is ready. It is stopped by `stop()`, and when
 * this Node process exits or gets SIGINT / SIGTERM / SIGHUP; it does not keep Node alive.
 */
export function startDevserver(options?: DevserverOptions): Promise<Devserver>;

/** The `/_dev/` hooks of an app origin (the READY `app`), for a devserver started elsewhere. */
export function devHooks(app: string): DevHooks;

/** The executable `startDevserver` runs; throws, naming `cargo install`, where this package has no binary. */
export function binaryPath(binary?: string): string;

/** How to build the devserver where this package has no binary. */
export function cargoInstallHint(): string;
