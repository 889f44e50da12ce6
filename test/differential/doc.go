// Package differential runs the same server API calls and the same raw
// client protocol command sequences against Centrifugo v6.9.1 and against
// the gateway, and compares the replies field by field, ignoring only what
// must differ (client IDs, epochs, node names and IDs, versions, uptime,
// Centrifugo's metrics). Centrifugo's own replies are also kept in
// testdata/*.golden.json (normalized), so a run against Centrifugo alone
// still checks the harness and pins the behaviour the gateway copies;
// go test ./test/differential -update rewrites them.
//
// Centrifugo comes from $CENTRIFUGO_BIN or
// ${XDG_CACHE_HOME:-$HOME/.cache}/gateway-tools/centrifugo (.ci/run builds
// it there); without it the tests skip, or fail when CI is set.
package differential
