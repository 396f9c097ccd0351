// Wrong uses of smh-upload that the types must refuse. Every line under a `// @ts-expect-error`
// must be a type error: tsc fails with TS2578 (unused directive) when one stops being one.
// types.test.mjs compiles it with tsc --strict against the installed tarball; it is never run.

import init, { SmhClient, UploadTask } from 'smh-upload';
import type { CheckpointStore, SdkErrorCode, SmhUploadError, UploadOptions, UploadResult } from 'smh-upload';

declare const blob: Blob;
declare const task: UploadTask;
declare const result: UploadResult;
declare const error: SmhUploadError;
const base = { baseUrl: 'https://smh.tencentcs.com', libraryId: 'smhexample', accessToken: 'tok' } as const;
const client = new SmhClient(base);

// Client options: required ones missing.
// @ts-expect-error baseUrl is required
new SmhClient({ libraryId: 'smhexample', accessToken: 'tok' });
// @ts-expect-error libraryId is required
new SmhClient({ baseUrl: 'https://smh.tencentcs.com', accessToken: 'tok' });
// @ts-expect-error the options object is required
new SmhClient();

// Client options: wrong types.
// @ts-expect-error baseUrl is a string
new SmhClient({ ...base, baseUrl: new URL('https://smh.tencentcs.com') });
// @ts-expect-error concurrency is a number
new SmhClient({ ...base, concurrency: '4' });
// @ts-expect-error partSize is a number
new SmhClient({ ...base, partSize: 8n * 1024n * 1024n });
// @ts-expect-error allowedDomains is an array
new SmhClient({ ...base, allowedDomains: '*.myqcloud.com' });
// @ts-expect-error allowedDomains holds strings
new SmhClient({ ...base, allowedDomains: [/myqcloud\.com$/] });
// @ts-expect-error retries is a number
new SmhClient({ ...base, retries: true });
// @ts-expect-error accessToken is a string, not a promise of one
new SmhClient({ ...base, accessToken: Promise.resolve('tok') });

// Client options: unknown names and enum values.
// @ts-expect-error a misspelt option
new SmhClient({ ...base, acessToken: 'tok' });
// @ts-expect-error checkpoints is 'local', 'none' or a store
new SmhClient({ ...base, checkpoints: 'session' });
// @ts-expect-error a store needs remove
new SmhClient({ ...base, checkpoints: { get: () => null, set: () => {} } });
// @ts-expect-error a store's get gives strings
const numberStore: CheckpointStore = { get: () => 42, set: () => {}, remove: () => {} };

// Callbacks of the wrong shape.
// @ts-expect-error getAccessToken gives a string
new SmhClient({ ...base, getAccessToken: () => 42 });
// @ts-expect-error getAccessToken gives a string or a promise of one, not a promise of a number
new SmhClient({ ...base, getAccessToken: async () => ({ accessToken: 'tok' }) });
// @ts-expect-error getAccessToken is called with no argument
new SmhClient({ ...base, getAccessToken: (libraryId: string) => libraryId });
// @ts-expect-error onProgress gets an UploadProgress object
client.upload(blob, 'a.bin', { onProgress: (loaded: number) => console.log(loaded) });
// @ts-expect-error onStateChange gets a state string
client.upload(blob, 'a.bin', { onStateChange: (state: { name: string }) => console.log(state.name) });
// @ts-expect-error progress reports have no `percent`
client.upload(blob, 'a.bin', { onProgress: p => console.log(p.percent) });

// @ts-expect-error onWarning gets an UploadWarning object
client.upload(blob, 'a.bin', { onWarning: (message: string) => console.log(message) });
// @ts-expect-error there is no such warning code
client.upload(blob, 'a.bin', { onWarning: w => w.code === 'SlowNetwork' });

// upload(): arguments.
// @ts-expect-error the file is a Blob or File, not a string
client.upload('hello', 'a.txt');
// @ts-expect-error the path is required
client.upload(blob);
// @ts-expect-error the path is a string
client.upload(blob, ['dir', 'a.bin']);
// @ts-expect-error conflict is 'rename', 'overwrite' or 'ask'
client.upload(blob, 'a.bin', { conflict: 'replace' });
// @ts-expect-error quickUpload is a boolean
client.upload(blob, 'a.bin', { quickUpload: 'yes' });
// @ts-expect-error signal is an AbortSignal, not its controller
client.upload(blob, 'a.bin', { signal: new AbortController() });
// @ts-expect-error createParents is a boolean
client.upload(blob, 'a.bin', { createParents: 'yes' });
// @ts-expect-error createParents is a boolean
new SmhClient({ ...base, createParents: 1 });
// @ts-expect-error a misspelt upload option
const misspelt: UploadOptions = { onprogress: () => {} };

// Tasks, results, errors.
// @ts-expect-error there is no 'running' state
if (task.state === 'running') console.log('never');
// @ts-expect-error state is read-only
task.state = 'done';
// @ts-expect-error eta may be null
const eta: number = task.progress.eta;
// @ts-expect-error pause takes no argument
task.pause(1000);
// @ts-expect-error done() resolves with an UploadResult, not a string
const path: Promise<string> = task.done();
// @ts-expect-error crc64 is a decimal string
result.crc64.toFixed();
// @ts-expect-error etag may be null
result.etag.length;
// @ts-expect-error size is a number
result.size.padStart(10);
// @ts-expect-error requestId may be null
error.requestId.length;
// @ts-expect-error not an SDK error code
const typo: SdkErrorCode = 'Netwrok';
// @ts-expect-error discardPending takes a path string
client.discardPending(['a.bin']);
// @ts-expect-error pendingUploads resolves with a list
client.pendingUploads().then(list => list.path);
// @ts-expect-error updatedAt is a number of milliseconds
client.pendingUploads().then(list => list[0]?.updatedAt.toISOString());
// @ts-expect-error tasks are made by client.upload
new UploadTask();
// @ts-expect-error init resolves with the raw wasm exports, not a client
const notClient: SmhClient = await init();

export { eta, misspelt, notClient, numberStore, path, typo };
