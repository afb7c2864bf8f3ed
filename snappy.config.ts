// The config of the embedded default: the example state in ./state and the file remote
// .snappy-remote/ beside it. Every section is optional; see README "Configuration".
import { defineConfig } from 'snappy';

export default defineConfig({});
