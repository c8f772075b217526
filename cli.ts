/**
 * The `hako` executable's entry point: only the CLI, so the compiled binary loads no more
 * than the command it runs needs. `mod.ts` run as a script does exactly the same.
 */

import { main } from "./src/cli/main.ts";
import { args, exit } from "./ffi/host.ts";

exit(await main(args()));
