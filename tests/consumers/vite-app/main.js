// A Vite app's entry: the package imported by its bare name, as `npm install smh-upload` users do.
import init, { SmhClient } from 'smh-upload';

import { exposeUploader } from './upload-page.js';

exposeUploader(init, SmhClient);
