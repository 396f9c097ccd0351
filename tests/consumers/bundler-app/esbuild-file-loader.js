// The esbuild entry that imports the .wasm's URL (`--loader:.wasm=file`, pkg-template/README.md
// "Bundlers") and hands it to `init`.
import init, { SmhClient } from 'smh-upload';
import wasmUrl from 'smh-upload/smh_upload_bg.wasm';

import { exposeUploader } from './upload-page.js';

exposeUploader(() => init({ module_or_path: wasmUrl }), SmhClient);
