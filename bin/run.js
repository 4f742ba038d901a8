#!/usr/bin/env node
// The sfts CLI: oclif loads the compiled commands from dist/cli/commands (built by `npm install`/`npm run build`).
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";

import { execute } from "@oclif/core";

await execute({ dir: import.meta.url });
