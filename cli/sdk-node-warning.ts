// The AWS SDK for JavaScript prints a NodeVersionSupportWarning on Node 20 (its releases after the first week of
// January 2027 need Node 22). Which Node versions this project supports, and until when, is stated once, in
// docs/install.md. This module, imported first by the `backfill` command and by the test runner (--import), turns
// the notice off with the SDK's own switch, so that it is neither printed by every CLI command nor once per test file.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
export {};
