// The app's entry, as a new webpack 5 or esbuild project has it (src/index.js): the package
// imported by its bare name, `init()` with no argument.
import init, { SmhClient } from 'smh-upload';

import { exposeUploader } from './upload-page.js';

exposeUploader(init, SmhClient);
