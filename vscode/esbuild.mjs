// Two bundles: the extension (vscode is provided by the editor) and the client layer
// alone, which the node tests import.
import { build } from "esbuild";

const common = { bundle: true, platform: "node", target: "node20", sourcemap: true, logLevel: "warning" };
await build({ ...common, entryPoints: ["src/extension.ts"], outfile: "dist/extension.js", format: "cjs", external: ["vscode"] });
await build({ ...common, entryPoints: ["src/client.ts"], outfile: "dist/client.mjs", format: "esm" });
