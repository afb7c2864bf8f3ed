#!/usr/bin/env node
// The entry's former path, kept for scripts that run the CLI by it: the entry is
// bin/snappy.cjs (package.json "bin"), which this runs.
import './snappy.cjs';
